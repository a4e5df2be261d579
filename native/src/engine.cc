// The engine's libtorch code, compiled as one translation unit (a unity build). Each of these
// files parses the same libtorch headers, about 16 s of CPU by themselves, so compiled apart the
// three took 54 s of CPU at `npm ci` against 28 s together (measured, g++ -O3, Debian's libtorch).
// They stay separate files to read and edit; binding.gyp compiles this one (and addon.cc, which
// has no libtorch header) instead.
#include "net.cc"
#include "margin-loss.cc"
#include "script-net.cc"
