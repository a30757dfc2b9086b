# tests/integration/retrieval.cmake — the retrieval pool with real processes
# (owned by the retrieval engineer): retrieval-router + two retrieval-service
# replicas over ipc:// in a temp dir, 300 idempotent searches in flight, one
# replica SIGKILLed mid-run; asserts zero lost requests, LRU use of both
# replicas, the dead one dropped, clean SIGTERM exits and sanitizer logs.
if(TARGET retrieval-router AND TARGET retrieval-service)
  add_executable(test_rt_pool ${CMAKE_CURRENT_LIST_DIR}/retrieval/test_pool.c)
  target_link_libraries(test_rt_pool PRIVATE rt_retrieval copilot_bus copilot_core)
  target_include_directories(test_rt_pool PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_rt_pool retrieval-router retrieval-service)
  add_test(NAME integration.retrieval.pool
           COMMAND test_rt_pool $<TARGET_FILE:retrieval-router> $<TARGET_FILE:retrieval-service>
                   ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.retrieval.pool PROPERTIES
    TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

# integration.retrieval.heartbeat — a replica keeps heartbeating while it runs
# a genuinely slow search (synthetic all-common-words corpus, k = 100,
# heartbeat derived from the measured search time): router misses stay 0.
if(TARGET retrieval-router AND TARGET retrieval-service)
  add_executable(test_rt_heartbeat ${CMAKE_CURRENT_LIST_DIR}/retrieval/test_heartbeat.c)
  target_link_libraries(test_rt_heartbeat PRIVATE rt_retrieval copilot_bus copilot_core)
  target_include_directories(test_rt_heartbeat PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_rt_heartbeat retrieval-router retrieval-service)
  add_test(NAME integration.retrieval.heartbeat
           COMMAND test_rt_heartbeat $<TARGET_FILE:retrieval-router> $<TARGET_FILE:retrieval-service>)
  set_tests_properties(integration.retrieval.heartbeat PROPERTIES
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()

# integration.retrieval.reload — hot reload on data.changed with real daemons
# (event-bus, router, one replica, the copilot CLI on a copy of the fixture):
# a new job becomes searchable while a search loop sees zero errors.
if(TARGET retrieval-router AND TARGET retrieval-service AND TARGET event-bus AND TARGET copilot)
  add_executable(test_rt_reload ${CMAKE_CURRENT_LIST_DIR}/retrieval/test_reload.c)
  target_link_libraries(test_rt_reload PRIVATE rt_retrieval copilot_bus copilot_core)
  target_include_directories(test_rt_reload PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_rt_reload retrieval-router retrieval-service event-bus copilot)
  add_test(NAME integration.retrieval.reload
           COMMAND test_rt_reload $<TARGET_FILE:event-bus> $<TARGET_FILE:retrieval-router>
                   $<TARGET_FILE:retrieval-service> $<TARGET_FILE:copilot> ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.retrieval.reload PROPERTIES
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
