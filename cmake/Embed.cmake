# copilot_embed(<out.c> <symbol-prefix> <base-dir> <files...>)
#
# Generates a C file holding the given files as NUL-terminated byte arrays and
# a table `<prefix>_files[]` of {name, data, size} ending with a NULL name, so
# binaries carry their SQL, registry and corpus files and never depend on the
# source tree at run time. Names are paths relative to <base-dir>.
function(copilot_embed out prefix base)
  set(files ${ARGN})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DPREFIX=${prefix} -DBASE=${base}
            "-DFILES=${files}" -P ${CMAKE_SOURCE_DIR}/cmake/EmbedRun.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/EmbedRun.cmake
    COMMENT "embedding ${prefix} (${out})"
    VERBATIM)
endfunction()
