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
endfunction()

# genalytics_tests(NAME [DEPS...]): one GoogleTest binary from tests/NAME/*_test.cc,
# its cases registered with CTest under the label "unit".
function(genalytics_tests name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${name}/*.cc)
  if(NOT sources)
    return()
  endif()
  add_executable(${name}_tests ${sources})
  target_compile_options(${name}_tests PRIVATE ${GENALYTICS_WARNINGS})
  target_include_directories(${name}_tests PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name}_tests PRIVATE ${ARGN} GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()
include(GoogleTest)
