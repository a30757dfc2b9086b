# tests/integration/retrieval.cmake — the retrieval pool with real processes
# (owned by the retrieval engineer): retrieval-router + two retrieval-service
# replicas over ipc:// in a temp dir, 300 idempotent searches in flight, one
# replica SIGKILLed mid-run; asserts zero lost requests, LRU use of both
# replicas, the dead one dropped, clean SIGTERM exits and sanitizer logs.
if(TARGET retrieval-router AND TARGET retrieval-service)
  add_executable(test_rt_pool ${CMAKE_CURRENT_LIST_DIR}/retrieval/test_pool.c)
  target_link_libraries(test_rt_pool PRIVATE rt_retrieval copilot_bus copilot_core)
  add_dependencies(test_rt_pool retrieval-router retrieval-service)
  add_test(NAME integration.retrieval.pool
           COMMAND test_rt_pool $<TARGET_FILE:retrieval-router> $<TARGET_FILE:retrieval-service>
                   ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.retrieval.pool PROPERTIES
    TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
