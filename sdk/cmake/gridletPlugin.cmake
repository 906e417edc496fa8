# gridlet_add_plugin(<target> <source>...)
# Builds a gridlet plugin: a MODULE library named <target>.so (no "lib"
# prefix), hidden visibility so that only gridlet_plugin_entry is exported,
# linked with gridlet::sdk.
function(gridlet_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE gridlet::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT DEFINED CMAKE_CXX_STANDARD)
    target_compile_features(${target} PRIVATE cxx_std_17)
  endif()
endfunction()
