# The native training engine (libtorch through N-API). Built by scripts/build-native.mjs, which
# finds a libtorch and writes build-config.gypi (its include and library folders, C++ ABI flag and
# standard, CUDA libraries); see that script.
{
  'includes': ['build-config.gypi'],
  'targets': [
    {
      'target_name': 'whaleid_native',
      # engine.cc includes net.cc, margin-loss.cc and script-net.cc (one parse of libtorch's headers)
      'sources': ['src/addon.cc', 'src/engine.cc'],
      'include_dirs': ['<(napi_include)', '<@(torch_include_dirs)'],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', '_GLIBCXX_USE_CXX11_ABI=<(torch_cxx11_abi)'],
      'cflags!': ['-fno-exceptions', '-fno-rtti'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      'cflags_cc': ['-std=<(cxx_std)', '-fexceptions', '-frtti', '-Wno-unused-parameter', '-Wno-deprecated-declarations', '-Wno-missing-field-initializers'],
      'ldflags': ['-Wl,-rpath,<(torch_lib_dir)'],
      'libraries': ['-L<(torch_lib_dir)', '-Wl,--no-as-needed', '<@(torch_libs)', '-Wl,--as-needed'],
    },
  ],
}
