# tests/bench/retrieval.cmake — retrieval benchmarks (label bench; excluded
# from `make test`, run by `make bench` / `ctest -L bench`). Owned by the
# retrieval engineer. Each run prints index build time and size, in-process
# search latency, and router QPS with one replica then two replicas (and the
# ratio) in the same run. See tests/bench/retrieval/bench_retrieval.c.
#   bench.retrieval.synthetic   RT_BENCH_DOCS seeded synthetic documents
#                               (default 100000) + built-in corpora. The 1M
#                               table in tests/bench/results/retrieval-1m.md was
#                               produced with RT_BENCH_DOCS=1000000 and, at run
#                               time, RT_BENCH_DIM=64 RT_BENCH_HNSW_M=16
#                               RT_BENCH_FIT_SAMPLE=8000 RT_BENCH_SEARCHES=100
#                               RT_BENCH_SECONDS=30 (keeps the single-thread
#                               build near 15 min on the shared 2-core VM).
#   Other run-time knobs (environment): RT_BENCH_THREADS, RT_BENCH_SEED,
#   RT_BENCH_EF_CONSTRUCTION, RT_BENCH_EF_SEARCH, RT_BENCH_INFLIGHT.
#   bench.retrieval.large       the large generated profile (same database as
#                               bench.graph.large; skipped when absent)
if(TARGET retrieval-router AND TARGET retrieval-service)
  add_executable(bench_retrieval ${CMAKE_CURRENT_LIST_DIR}/retrieval/bench_retrieval.c)
  target_include_directories(bench_retrieval PRIVATE ${CMAKE_SOURCE_DIR}/tests/integration/retrieval)
  target_link_libraries(bench_retrieval PRIVATE rt_retrieval copilot_bus copilot_core)
  add_dependencies(bench_retrieval retrieval-router retrieval-service)
  if(DEFINED ENV{RT_BENCH_DOCS})
    set(RT_BENCH_DOCS $ENV{RT_BENCH_DOCS})
  else()
    set(RT_BENCH_DOCS 100000)
  endif()
  add_test(NAME bench.retrieval.synthetic
           COMMAND bench_retrieval $<TARGET_FILE:retrieval-router> $<TARGET_FILE:retrieval-service>
                   --synthetic ${RT_BENCH_DOCS})
  if(DEFINED ENV{COPILOT_BENCH_LARGE_DB})
    set(RT_BENCH_DB $ENV{COPILOT_BENCH_LARGE_DB})
  else()
    set(RT_BENCH_DB ${CMAKE_BINARY_DIR}/bench/large-42.db)
  endif()
  add_test(NAME bench.retrieval.large
           COMMAND bench_retrieval $<TARGET_FILE:retrieval-router> $<TARGET_FILE:retrieval-service>
                   --db ${RT_BENCH_DB})
  set_tests_properties(bench.retrieval.synthetic bench.retrieval.large PROPERTIES
    TIMEOUT 7200 SKIP_RETURN_CODE 77 LABELS bench)
endif()
