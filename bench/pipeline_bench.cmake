# pipeline_bench: the production pipeline (Redis stream -> PostgreSQL) beside a
# plain COPY, and the PostgreSQL-backed API beside the seed's raw SQL.
# Included from bench/CMakeLists.txt; starts real redis-server and PostgreSQL 15
# through the test fixtures in tests/testing/.
add_executable(pipeline_bench ${CMAKE_CURRENT_LIST_DIR}/pipeline_bench.cc)
target_compile_options(pipeline_bench PRIVATE ${GENALYTICS_WARNINGS})
target_include_directories(pipeline_bench PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(pipeline_bench PRIVATE genalytics_server genalytics_demo CLI11::CLI11 fmt::fmt
                                             spdlog::spdlog)
set_target_properties(pipeline_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
