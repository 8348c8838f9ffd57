# Optional dependencies of the core. Each sets a LT_HAVE_* definition when found.
find_package(PkgConfig QUIET)

# cJSON: model configs and metrics. Optional so a bare CUDA machine still builds the core.
find_path(LT_CJSON_INCLUDE cjson/cJSON.h)
find_library(LT_CJSON_LIB cjson)
if(LT_CJSON_INCLUDE AND LT_CJSON_LIB)
  target_include_directories(loretta PRIVATE ${LT_CJSON_INCLUDE})
  target_link_libraries(loretta PUBLIC ${LT_CJSON_LIB})
  target_compile_definitions(loretta PUBLIC LT_HAVE_CJSON=1)
  set(LT_HAVE_CJSON TRUE)
else()
  message(STATUS "loretta: cJSON not found (libcjson-dev): JSON configs and metrics disabled")
endif()
