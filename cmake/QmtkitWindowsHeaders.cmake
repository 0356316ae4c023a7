# The cross compiler does not search /usr/include (adding it would mix glibc headers into a
# Windows build). Debian's header-only libraries the Windows build uses are exposed through a
# folder of links holding only them: Asio, CLI11.
set(_qmtkit_links ${CMAKE_BINARY_DIR}/windows-headers)
file(MAKE_DIRECTORY ${_qmtkit_links})
foreach(entry asio asio.hpp CLI)
    if(NOT EXISTS /usr/include/${entry})
        message(FATAL_ERROR "windows build: /usr/include/${entry} missing (libasio-dev, libcli11-dev)")
    endif()
    if(NOT EXISTS ${_qmtkit_links}/${entry})
        file(CREATE_LINK /usr/include/${entry} ${_qmtkit_links}/${entry} SYMBOLIC)
    endif()
endforeach()
set(QMTKIT_ASIO_INCLUDE ${_qmtkit_links} CACHE PATH "Asio headers (links)" FORCE)
set(QMTKIT_CLI11_INCLUDE ${_qmtkit_links} CACHE PATH "CLI11 headers (links)" FORCE)
