# Shared build settings: warnings, sanitizers, and helpers to declare modules and tests.

set(FERRY_WARNINGS -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(FERRY_WERROR)
  list(APPEND FERRY_WARNINGS -Werror)
endif()

if(FERRY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# ferry::malloc: the allocator of the programs built on the SDK. Messages are built on one thread
# and freed on another; glibc's per-thread arenas make that several times slower than jemalloc
# (docs/benchmarks.md, "SDK transports"). Libraries never link it: an application picks its
# allocator. Off under the sanitizers, which bring their own.
add_library(ferry_malloc INTERFACE)
add_library(ferry::malloc ALIAS ferry_malloc)
if(FERRY_JEMALLOC AND NOT FERRY_SANITIZE)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
  target_link_libraries(ferry_malloc INTERFACE PkgConfig::JEMALLOC)
endif()

# ferry_module(NAME SOURCES... DEPS...): a static library for one folder under src/.
# Installed as ferry::NAME (the CMake package) and libferry_NAME.a; only include/ferry/ is
# installed as headers, so src/ is an include directory of the build tree alone.
function(ferry_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(ferry_${name} STATIC ${M_SOURCES})
  target_include_directories(ferry_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
                             $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_compile_options(ferry_${name} PRIVATE ${FERRY_WARNINGS})
  target_link_libraries(ferry_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  set_target_properties(ferry_${name} PROPERTIES EXPORT_NAME ${name})
  add_library(ferry::${name} ALIAS ferry_${name})
  set_property(GLOBAL APPEND PROPERTY FERRY_MODULES ferry_${name})
endfunction()

# ferry_test(NAME SOURCES... DEPS... [LABELS ...]): a GoogleTest binary whose tests ctest finds.
function(ferry_test name)
  if(NOT FERRY_BUILD_TESTS)
    return()
  endif()
  # SERIAL: gtest names (a gtest filter, ':'-separated) of tests that ctest runs alone, with no
  # other test beside them: throughput tests whose verdict depends on getting the machine's cores.
  cmake_parse_arguments(T "" "TIMEOUT;SERIAL" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  # Tests go to build/tests; build/bin holds the programs only.
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_options(${name} PRIVATE ${FERRY_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(T_SERIAL MATCHES "-")
    message(FATAL_ERROR "ferry_test(${name} SERIAL): names only, no negative patterns ('-'): ${T_SERIAL}")
  endif()
  if(T_SERIAL)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_FILTER "-${T_SERIAL}"
      PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_FILTER "${T_SERIAL}"
      PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}" RUN_SERIAL TRUE)
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
      PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
  endif()
endfunction()

# ferry_grpc_generate(TARGET): protoc's messages and gRPC's services for the .proto sources of
# TARGET, in its binary directory (which it includes); generated code is not ours, so no -Werror.
function(ferry_grpc_generate target)
  get_target_property(dir ${target} SOURCE_DIR)
  get_target_property(bin ${target} BINARY_DIR)
  protobuf_generate(TARGET ${target} LANGUAGE cpp IMPORT_DIRS ${dir} PROTOC_OUT_DIR ${bin})
  protobuf_generate(TARGET ${target} LANGUAGE grpc IMPORT_DIRS ${dir} PROTOC_OUT_DIR ${bin}
    GENERATE_EXTENSIONS .grpc.pb.h .grpc.pb.cc
    PLUGIN "protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>")
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${bin}>)
  # Each generated file defines the same file-local tables: never one unity source.
  set_target_properties(${target} PROPERTIES COMPILE_OPTIONS "" UNITY_BUILD OFF)
endfunction()
