# CURVE between real processes (owned by ops): event-bus + a svc daemon with
# curve.* in their environment; allowed / rogue / plaintext clients, the
# copilot ping command, ZAP denial logs, config errors, no keys in logs.
# The in-process part (policies, ZAP handler, pub/sub) is unit.bus_curve.
if(TARGET event-bus AND TARGET bus_test_daemon AND TARGET copilot)
  add_executable(test_curve_cluster ${CMAKE_CURRENT_LIST_DIR}/ops/test_curve_cluster.c)
  target_include_directories(test_curve_cluster PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ops)
  target_link_libraries(test_curve_cluster PRIVATE copilot_bus copilot_core)
  add_test(NAME integration.curve
           COMMAND test_curve_cluster $<TARGET_FILE:event-bus> $<TARGET_FILE:bus_test_daemon>
                   $<TARGET_FILE:copilot>)
  set_tests_properties(integration.curve PROPERTIES
    TIMEOUT 90 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
