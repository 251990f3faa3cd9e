# cachet_library(NAME SRCS a.cc b.cc DEPS other_lib ...)
#   One static library per src/ folder. Target name: cachet_<NAME>.
function(cachet_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  add_library(cachet_${name} STATIC ${A_SRCS})
  target_include_directories(cachet_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  if(A_DEPS)
    target_link_libraries(cachet_${name} PUBLIC ${A_DEPS})
  endif()
endfunction()

# cachet_test(NAME SRCS a_test.cc DEPS cachet_x ... [LABELS l1 l2])
#   A GoogleTest executable registered with CTest. Label "tsan" marks tests that also run under
#   ThreadSanitizer in CI; "slow" marks tests that need built models or python (not run in sanitizers).
function(cachet_test name)
  if(NOT CACHET_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gtest_main pthread)
  # Paths are compiled in (a PROPERTIES ENVIRONMENT list would be split at its ';' by
  # gtest_discover_tests): tests read CACHET_SOURCE_DIR / CACHET_BUILD_DIR macros, and the
  # environment variables of the same names when set (they win, for running a moved build).
  target_compile_definitions(${name} PRIVATE CACHET_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                             CACHET_BUILD_DIR="${CMAKE_BINARY_DIR}")
  # Labels are set by an include file run after discovery: a list passed through
  # gtest_discover_tests' PROPERTIES is flattened (CMake 3.25), which dropped every label but the
  # first ("unit"), so `ctest -L tsan` found no tests.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
  set(_labels_file "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
  file(WRITE "${_labels_file}"
       "foreach(_t IN LISTS ${name}_TESTS)\n"
       "  set_tests_properties(\"\${_t}\" PROPERTIES LABELS \"unit;${A_LABELS}\")\n"
       "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_labels_file}")
endfunction()
