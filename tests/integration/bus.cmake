# Bus integration test (owned by the bus engineer): the event bus and two
# daemons (bus_test_daemon, a small svc-based daemon) as real processes on
# ipc endpoints in a temp dir; request/reply, pub/sub with seq, SIGKILL of a
# server with a request in flight, restart, SIGTERM exit codes, sanitizer logs.
if(TARGET event-bus)
  add_executable(bus_test_daemon ${CMAKE_CURRENT_LIST_DIR}/bus_test_daemon.c)
  target_link_libraries(bus_test_daemon PRIVATE copilot_bus copilot_core)
  add_executable(test_bus_cluster ${CMAKE_CURRENT_LIST_DIR}/test_bus_cluster.c)
  target_link_libraries(test_bus_cluster PRIVATE copilot_bus copilot_core)
  # Exit grace after SIGTERM: 1 s; sanitizer builds get 3 s for LeakSanitizer's
  # exit-time scan (the daemons' own drain→stopped time is still held to 1 s).
  if(COPILOT_SANITIZE)
    set(BUS_IT_EXIT_GRACE 3000)
  else()
    set(BUS_IT_EXIT_GRACE 1000)
  endif()
  add_test(NAME integration.bus_killrestart
           COMMAND test_bus_cluster $<TARGET_FILE:event-bus> $<TARGET_FILE:bus_test_daemon>
                   ${BUS_IT_EXIT_GRACE})
  set_tests_properties(integration.bus_killrestart PROPERTIES
    TIMEOUT 90 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
