# Finds every dependency; a missing one stops configure with one message that
# names the packages to install on Debian/Ubuntu, Fedora and macOS.
find_package(PkgConfig QUIET)
find_package(Threads REQUIRED)
set(CLINPAINT_MISSING "")

find_package(OpenCL QUIET)
if(NOT OpenCL_FOUND)
  list(APPEND CLINPAINT_MISSING "OpenCL ICD loader and headers")
endif()

find_package(CLBlast QUIET)
if(NOT CLBlast_FOUND)
  list(APPEND CLINPAINT_MISSING "CLBlast")
endif()

find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
find_path(STB_RESIZE_DIR stb_image_resize.h PATH_SUFFIXES stb)
find_path(STB_WRITE_DIR stb_image_write.h PATH_SUFFIXES stb)
find_library(STB_LIBRARY NAMES stb)
if(NOT STB_INCLUDE_DIR OR NOT STB_RESIZE_DIR OR NOT STB_WRITE_DIR)
  list(APPEND CLINPAINT_MISSING "stb (stb_image.h, stb_image_write.h, stb_image_resize.h)")
endif()
# Debian's libstb ships the implementations compiled; elsewhere (headers only)
# src/data/stb_impl.c compiles them once.
if(STB_LIBRARY)
  set(STB_LIBRARIES ${STB_LIBRARY})
  add_compile_definitions(CLINPAINT_HAVE_LIBSTB=1)
else()
  set(STB_LIBRARIES "")
endif()

if(PkgConfig_FOUND)
  pkg_check_modules(CHECK QUIET check)
  pkg_check_modules(CJSON QUIET libcjson)
endif()
# Image codecs: libpng and libjpeg(-turbo), the hardened, fuzzed decoders
# (stb_image is only used for BMP, TGA and GIF).
if(PkgConfig_FOUND)
  pkg_check_modules(CP_PNG QUIET libpng)
  pkg_check_modules(CP_JPEG QUIET libjpeg)
endif()
if(NOT CP_PNG_FOUND)
  find_package(PNG QUIET)
  if(PNG_FOUND)
    set(CP_PNG_INCLUDE_DIRS ${PNG_INCLUDE_DIRS})
    set(CP_PNG_LINK_LIBRARIES ${PNG_LIBRARIES})
  else()
    list(APPEND CLINPAINT_MISSING "libpng")
  endif()
endif()
if(NOT CP_JPEG_FOUND)
  find_package(JPEG QUIET)
  if(JPEG_FOUND)
    set(CP_JPEG_INCLUDE_DIRS ${JPEG_INCLUDE_DIRS})
    set(CP_JPEG_LINK_LIBRARIES ${JPEG_LIBRARIES})
  else()
    list(APPEND CLINPAINT_MISSING "libjpeg-turbo")
  endif()
endif()
set(CLINPAINT_CODEC_INCLUDE_DIRS ${CP_PNG_INCLUDE_DIRS} ${CP_JPEG_INCLUDE_DIRS})
set(CLINPAINT_CODEC_LIBRARIES ${CP_PNG_LINK_LIBRARIES} ${CP_JPEG_LINK_LIBRARIES})

if(NOT CJSON_FOUND)
  find_path(CJSON_INCLUDE_DIRS cjson/cJSON.h)
  find_library(CJSON_LIBRARIES cjson)
  if(NOT CJSON_INCLUDE_DIRS OR NOT CJSON_LIBRARIES)
    list(APPEND CLINPAINT_MISSING "cJSON")
  endif()
endif()
if(CLINPAINT_TESTS AND NOT CHECK_FOUND)
  list(APPEND CLINPAINT_MISSING "Check (unit test framework, found through pkg-config)")
endif()

if(CLINPAINT_MISSING)
  string(REPLACE ";" ", " missing "${CLINPAINT_MISSING}")
  message(FATAL_ERROR
    "clinpaint: missing dependencies: ${missing}\n"
    "Install them with:\n"
    "  Debian/Ubuntu: sudo apt-get install cmake pkg-config ocl-icd-opencl-dev opencl-headers libclblast-dev libstb-dev libcjson-dev check pocl-opencl-icd libpng-dev libjpeg62-turbo-dev\n"
    "  Fedora:        sudo dnf install cmake pkgconf ocl-icd-devel opencl-headers clblast-devel stb-devel cjson-devel check-devel pocl libpng-devel libjpeg-turbo-devel\n"
    "  macOS:         brew install cmake pkg-config clblast cjson check libpng jpeg-turbo (stb: brew install stb or copy stb_image*.h into /usr/local/include/stb)\n"
    "or run tools/setup.sh, which installs them on Debian/Ubuntu.\n"
    "(Tests only: -DCLINPAINT_TESTS=OFF builds without Check.)")
endif()
