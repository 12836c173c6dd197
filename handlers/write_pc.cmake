# write_pc.cmake - runs at install time (install(SCRIPT), component dev): writes
# threadmill-handler.pc for the prefix actually installed to, so `cmake --install --prefix DIR`
# (a staged tree, as tests/handlers/outoftree does) gets a pc file naming DIR. Expects
# TM_PC_IN, TM_PC_OUT, TM_PC_INCLUDE_REL, TM_PC_DATA_REL, TM_PC_VERSION, TM_PC_ABI_MAJOR,
# TM_PC_ABI_MINOR (set by handlers/CMakeLists.txt's install(CODE)).
set(TM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(kind INCLUDE DATA)
  if(IS_ABSOLUTE "${TM_PC_${kind}_REL}")
    set(TM_PC_${kind}DIR "${TM_PC_${kind}_REL}")
  else()
    set(TM_PC_${kind}DIR "\${prefix}/${TM_PC_${kind}_REL}")
  endif()
endforeach()
configure_file("${TM_PC_IN}" "${TM_PC_OUT}" @ONLY)
