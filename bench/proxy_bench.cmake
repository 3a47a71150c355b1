# proxy_bench: the latency RouteProxy adds, beside direct calls to the same
# in-process upstream. Included from bench/CMakeLists.txt.
add_executable(proxy_bench ${CMAKE_CURRENT_LIST_DIR}/proxy_bench.cc)
target_compile_options(proxy_bench PRIVATE ${GENALYTICS_WARNINGS})
target_include_directories(proxy_bench PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(proxy_bench PRIVATE genalytics_server CLI11::CLI11 fmt::fmt spdlog::spdlog)
set_target_properties(proxy_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
