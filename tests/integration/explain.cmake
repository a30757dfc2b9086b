# tests/integration/explain.cmake — the Explain pipeline end to end through
# real daemons on the fixture (included by tests/CMakeLists.txt):
#   integration.explain.e2e        event-bus, report-service, graph-service,
#                                  retrieval (router + worker on a `copilot
#                                  index` built into a temp dir), llm-gateway
#                                  (offline narrator), prompt-builder
#   integration.explain.fake       the same with the fake OpenAI provider
#   integration.explain.degraded   without graph and retrieval (degrade notes),
#                                  then llm-gateway / report-service stopped
#                                  (UNAVAILABLE naming them)
# Daemons that are not built yet make the test skip (exit 77) after the parts
# that can run; see tests/integration/explain/test_explain.c.
if(TARGET prompt-builder)
  add_executable(test_explain ${CMAKE_CURRENT_LIST_DIR}/explain/test_explain.c)
  target_link_libraries(test_explain PRIVATE copilot_bus copilot_core)
  target_include_directories(test_explain PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  set(_explain_deps prompt-builder)
  foreach(d event-bus report-service graph-service retrieval-service retrieval-router llm-gateway copilot)
    if(TARGET ${d})
      list(APPEND _explain_deps ${d})
    endif()
  endforeach()
  add_dependencies(test_explain ${_explain_deps})
  # fake-provider is defined by llm.cmake, included after this file: add the
  # dependency once the directory is processed; the test finds the binary in
  # bin/ and skips the fake mode (exit 77) when it is missing.
  function(_explain_late_deps)
    if(TARGET fake-provider)
      add_dependencies(test_explain fake-provider)
    endif()
  endfunction()
  cmake_language(DEFER CALL _explain_late_deps)
  set(_explain_fake ${CMAKE_BINARY_DIR}/bin/fake-provider)
  foreach(mode e2e fake degraded)
    add_test(NAME integration.explain.${mode}
             COMMAND test_explain ${mode} ${CMAKE_BINARY_DIR}/bin ${COPILOT_FIXTURE_DB} ${_explain_fake})
    set_tests_properties(integration.explain.${mode} PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
                         LABELS "integration;explain" RESOURCE_LOCK explain_fixture)
  endforeach()
endif()
