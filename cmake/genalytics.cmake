# The headers most translation units parse, precompiled once per target when
# GENALYTICS_PCH is on: the standard library, Boost.JSON and fmt, and for the
# test binaries GoogleTest. A source must still include what it uses: a build
# with -DGENALYTICS_PCH=OFF (make test's check build) compiles without them.
set(GENALYTICS_PCH_HEADERS
    <algorithm> <array> <chrono> <cmath> <cstdint> <functional> <map> <memory> <optional>
    <set> <span> <string> <string_view> <thread> <tuple> <utility> <vector>
    <boost/json.hpp> <fmt/format.h>)

# genalytics_precompile(TARGET [HEADERS...]): GENALYTICS_PCH_HEADERS and HEADERS.
function(genalytics_precompile target)
  if(GENALYTICS_PCH)
    target_precompile_headers(${target} PRIVATE ${GENALYTICS_PCH_HEADERS} ${ARGN})
  endif()
endfunction()

# genalytics_layer(NAME [DEPS...]): a static library from src/NAME/*.cc.
function(genalytics_layer name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.cc)
  if(NOT sources)  # a layer still being written: headers only
    add_library(genalytics_${name} INTERFACE)
    target_include_directories(genalytics_${name} INTERFACE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(genalytics_${name} INTERFACE ${ARGN} Threads::Threads)
    return()
  endif()
  add_library(genalytics_${name} STATIC ${sources})
  target_include_directories(genalytics_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src)
  target_compile_options(genalytics_${name} PRIVATE ${GENALYTICS_WARNINGS})
  target_link_libraries(genalytics_${name} PUBLIC ${ARGN} Threads::Threads)
  list(LENGTH sources count)
  if(count GREATER 2)
    genalytics_precompile(genalytics_${name})
  endif()
endfunction()

# genalytics_tests(NAME [DEPS...] [SHARED_FIXTURE_SUITES SUITE...]): one
# GoogleTest binary from tests/NAME/*_test.cc, registered with CTest under the
# label "unit": each case as its own test, in its own process, except the cases
# of each SHARED_FIXTURE_SUITE. Those share what is expensive to build (a month
# of demo traffic made in SetUpTestSuite, a server started once per process),
# so each such suite is one test, NAME.SUITE, running all its cases in one
# process: built once, not once per case. A SUITE is named as --gtest_list_tests
# prints it: "Fixture", or "Instantiation/Fixture" for a parameterised one.
function(genalytics_tests name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SHARED_FIXTURE_SUITES")
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${name}/*.cc)
  if(NOT sources)
    return()
  endif()
  add_executable(${name}_tests ${sources})
  target_compile_options(${name}_tests PRIVATE ${GENALYTICS_WARNINGS})
  target_include_directories(${name}_tests PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name}_tests PRIVATE ${arg_UNPARSED_ARGUMENTS}
                        GTest::gtest GTest::gtest_main GTest::gmock)
  genalytics_precompile(${name}_tests <gtest/gtest.h> <gmock/gmock.h>)
  set(shared_cases "")
  foreach(suite IN LISTS arg_SHARED_FIXTURE_SUITES)
    add_test(NAME ${name}.${suite} COMMAND ${name}_tests --gtest_filter=${suite}.*)
    # A filter that selects nothing passes in GoogleTest: a renamed suite must not.
    set_tests_properties(${name}.${suite} PROPERTIES LABELS unit
                         FAIL_REGULAR_EXPRESSION "Running 0 tests from")
    list(APPEND shared_cases "${suite}.*")
  endforeach()
  set(discovery_filter "")
  if(shared_cases)
    list(JOIN shared_cases ":" excluded)
    set(discovery_filter TEST_FILTER "-${excluded}")
  endif()
  gtest_discover_tests(${name}_tests ${discovery_filter}
                       PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()
include(GoogleTest)
