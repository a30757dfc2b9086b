# Deployment files (owned by ops): deploy/docker-compose.yml, deploy/Dockerfile,
# deploy/config/*.conf.
#   deploy.compose_config  `docker compose config` (or docker-compose) renders the
#                          file with and without CURVE variables; skipped (77)
#                          when no compose tool works on this machine
#   deploy.compose_refs    every program, COPILOT_* variable, --set key and sample
#                          config key refers to something the sources really read
add_test(NAME deploy.compose_config
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/deploy/compose_config.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(deploy.compose_config PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS deploy)
add_test(NAME deploy.compose_refs
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/deploy/compose_refs.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(deploy.compose_refs PROPERTIES TIMEOUT 60 LABELS deploy)
