# qmtkit.exe, the Windows build (windows preset, mingw-w64). Debian has no mingw-w64 build of
# OpenSSL, libcurl, SQLite, libpq or libmosquitto, so the subcommands and options that need them
# (sign, verify, image build, ledger, provision; pub / sub --manifest) are there by name and
# answer one line, exit kExitUnavailable (cmd_unavailable.cpp). pub and sub are whole: serial
# (COM5) and tcp:// devices, -l, --spool (host::FileStore's Windows branch), signals; and so is
# image inspect (the image's parser and Intel HEX need only the core).
if(NOT TARGET qmtkit::host OR NOT QMTKIT_CLI11_INCLUDE)
    message(WARNING "qmtkit CLI: qmtkit::host or CLI11 missing; not built")
    return()
endif()
add_executable(qmtkit
    main.cpp
    common.cpp
    link.cpp
    line_source.cpp
    line_source_win.cpp
    session.cpp
    cmd_pub.cpp
    cmd_sub.cpp
    cmd_image.cpp
    cmd_unavailable.cpp
    manifest/src/text_file.cpp
    image/src/encode.cpp
    image/src/intel_hex.cpp)
# The manifest's and the cloud's headers declare what session.cpp and cmd_image.cpp name;
# nothing of them is linked (QMTKIT_CLI_CLOUD=0 compiles those paths out).
target_include_directories(qmtkit PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}
    ${CMAKE_CURRENT_SOURCE_DIR}/manifest/include ${CMAKE_CURRENT_SOURCE_DIR}/image/include
    ${PROJECT_SOURCE_DIR}/cloud/host/include)
target_include_directories(qmtkit SYSTEM PRIVATE ${QMTKIT_CLI11_INCLUDE})
target_compile_definitions(qmtkit PRIVATE QMTKIT_CLI_CLOUD=0)
target_link_libraries(qmtkit PRIVATE qmtkit::host qmtkit::cloud_device)
qmtkit_host_warnings(qmtkit)
