#!/bin/sh
# Install the build into a scratch prefix, then build and run a program
# against it through pkg-config, with the static and the shared library.
set -eu
build=$1
cc=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/einsum.h"
test -x "$prefix/bin/einsum"
cat > "$prefix/use.c" <<'C'
#include <einsum.h>
int main(void)
{
    double a[3] = {1, 2, 3}, o = 0;
    ein_tensor t = {a, EIN_F64, 1, (const int64_t[]){3}, NULL};
    ein_tensor to = {&o, EIN_F64, 0, NULL, NULL};
    return einsum("i,i->", &to, &t, &t) == EIN_OK && o == 14 ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
"$cc" -std=c11 "$prefix/use.c" $(pkg-config --cflags einsum) \
    -Wl,-rpath,"$prefix/lib" $(pkg-config --libs einsum) -o "$prefix/use_shared"
"$prefix/use_shared"
"$cc" -std=c11 "$prefix/use.c" $(pkg-config --cflags einsum) \
    "$prefix/lib/libeinsum.a" -lpthread -lm -o "$prefix/use_static"
"$prefix/use_static"
# Only the public API is exported from the shared library.
if nm -D --defined-only "$prefix/lib/libeinsum.so" | awk '{print $3}' | grep -v -E '^(ein_|einsum_v$)'; then
    echo "unexpected exported symbols" >&2
    exit 1
fi
echo "install_check: header, libraries, program and pkg-config work"
