# cmake --install: the programs (ferryd, ferry), the public headers (include/ferry), every library
# as a static archive, a CMake package (find_package(ferry): ferry::sdk, ferry::broker,
# ferry::consistency, ferry::transport_<name>, ferry::transports...) whose dependencies are found
# again on the using machine, and pkg-config files (ferry, ferry-broker). `make package` builds
# Debian packages from the same rules (cmake/package.cmake).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(ferry_asio PROPERTIES EXPORT_NAME asio)
get_property(ferry_modules GLOBAL PROPERTY FERRY_MODULES)
install(TARGETS ${ferry_modules} ferry_asio
  EXPORT ferryTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/ferry DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT ferryTargets NAMESPACE ferry:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferry COMPONENT dev)
configure_package_config_file(cmake/ferryConfig.cmake.in ${CMAKE_BINARY_DIR}/ferryConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferry)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ferryConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ferryConfig.cmake ${CMAKE_BINARY_DIR}/ferryConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ferry COMPONENT dev)
# The .pc files find the prefix from where they lie, so an install moved (or made with
# `cmake --install --prefix`) still works.
file(RELATIVE_PATH FERRY_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
foreach(pc ferry ferry-broker)
  configure_file(cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

install(TARGETS ferryd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS ferry RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
include(cmake/package.cmake)
