include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS qmtkit_core qmtkit_cloud_device EXPORT qmtkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sdk/include/qmtkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cloud/device/include/qmtkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT qmtkitTargets NAMESPACE qmtkit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qmtkit)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/qmtkitConfig.cmake.in
    ${PROJECT_BINARY_DIR}/qmtkitConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qmtkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/qmtkitConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/qmtkitConfig.cmake ${PROJECT_BINARY_DIR}/qmtkitConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/qmtkit)
