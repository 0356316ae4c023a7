// LineSource's Platform on Windows. No poll() on stdin there, and an anonymous pipe cannot be
// waited on, so each kind of stdin is read its own way:
//   pipe     read as far as PeekNamedPipe says it holds (never a blocking read), the stop event
//            waited on between looks (20 ms). Durable too: a pipe's writer going away cannot be
//            told while a peeked line has no newline yet, so a pipe is read, not peeked (a line
//            read the instant before a kill is lost, as from a terminal)
//   file     ReadFile; durable: peeked at an explicit offset, the handle's position moved on take()
//   console  and anything else (Wine's view of a Linux pipe, which PeekNamedPipe does not
//            support): a blocking ReadFile, which the destructor cancels (CancelSynchronousIo)
//            until the reader has gone
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#ifdef __MINGW32__
#include <pthread.h>  // mingw-w64's std::thread is winpthreads: its HANDLE from pthread_gethandle
#endif

#include <algorithm>
#include <string>
#include <system_error>

#include "line_source.hpp"

namespace qmtkit::cli {

namespace {

std::string win_text(DWORD e) {
    char* msg = nullptr;
    const DWORD n = ::FormatMessageA(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, e, 0, reinterpret_cast<char*>(&msg), 0, nullptr);
    std::string s = n > 0 && msg != nullptr ? std::string(msg, n) : "error " + std::to_string(e);
    if (msg != nullptr) ::LocalFree(msg);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
    return s;
}

// A pipe's writer has gone: the end of the input.
bool pipe_ended(DWORD e) {
    return e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED || e == ERROR_NO_DATA;
}

// How many bytes the pipe holds; false with `e` set.
bool peek_pipe(HANDLE h, DWORD& avail, DWORD& e) {
    avail = 0;
    if (::PeekNamedPipe(h, nullptr, 0, nullptr, &avail, nullptr) != 0) return true;
    e = ::GetLastError();
    return false;
}

bool position(HANDLE h, std::uint64_t& at) {
    LARGE_INTEGER zero{}, now{};
    if (::SetFilePointerEx(h, zero, &now, FILE_CURRENT) == 0) return false;
    at = static_cast<std::uint64_t>(now.QuadPart);
    return true;
}

}  // namespace

void LineSource::open_platform(bool durable) {
    stop_event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (stop_event_ == nullptr)
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                "CreateEvent");
    stdin_ = ::GetStdHandle(STD_INPUT_HANDLE);
    const DWORD type = stdin_ == nullptr || stdin_ == INVALID_HANDLE_VALUE ? FILE_TYPE_UNKNOWN
                                                                           : ::GetFileType(stdin_);
    DWORD avail = 0, e = 0;
    if (type == FILE_TYPE_PIPE) {
        piped_read_ = peek_pipe(stdin_, avail, e) || pipe_ended(e);
    } else if (durable && type == FILE_TYPE_DISK) {
        std::uint64_t at = 0;
        if (position(stdin_, at)) input_ = Input::file;
    }
}

void LineSource::wake_reader() noexcept {
    ::SetEvent(stop_event_);
    // A blocking ReadFile (a console, a pipe Wine cannot peek) is cancelled until the reader is
    // gone: it may enter its next read just after a cancel.
#ifdef __MINGW32__
    auto* thread = static_cast<HANDLE>(::pthread_gethandle(reader_.native_handle()));
#else
    auto* thread = static_cast<HANDLE>(reader_.native_handle());
#endif
    if (thread == nullptr) return;
    while (::WaitForSingleObject(thread, 20) == WAIT_TIMEOUT) ::CancelSynchronousIo(thread);
}

void LineSource::close_platform() noexcept {
    if (stop_event_ != nullptr) ::CloseHandle(stop_event_);
    stop_event_ = nullptr;
}

bool LineSource::wait_wake(int ms) {
    return ::WaitForSingleObject(stop_event_, static_cast<DWORD>(ms)) != WAIT_OBJECT_0;
}

LineSource::Got LineSource::read_some(char* buf, std::size_t cap, std::size_t& n,
                                      std::string& error) {
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(cap, 1u << 30));
    for (;;) {
        if (::WaitForSingleObject(stop_event_, 0) == WAIT_OBJECT_0) return Got::stop;
        DWORD take_now = want;
        if (piped_read_) {
            DWORD avail = 0, e = 0;
            if (!peek_pipe(stdin_, avail, e)) {
                if (pipe_ended(e)) return Got::end;
                error = win_text(e);
                return Got::error;
            }
            if (avail == 0) {
                if (!wait_wake(20)) return Got::stop;
                continue;
            }
            take_now = std::min(want, avail);  // never blocks: the pipe holds this much
        }
        DWORD got = 0;
        if (::ReadFile(stdin_, buf, take_now, &got, nullptr) == 0) {
            const DWORD e = ::GetLastError();
            if (e == ERROR_OPERATION_ABORTED) return Got::stop;  // the destructor's cancel
            if (pipe_ended(e) || e == ERROR_HANDLE_EOF) return Got::end;
            error = stdin_ == nullptr || stdin_ == INVALID_HANDLE_VALUE ? "not open" : win_text(e);
            return Got::error;
        }
        if (got == 0) {
            // A console gives 0 bytes for Ctrl+Z; a file and a pipe at their end.
            return Got::end;
        }
        n = got;
        return Got::data;
    }
}

LineSource::Got LineSource::peek_some(char* buf, std::size_t cap, std::size_t& n, bool& last,
                                      std::string& error) {
    // Input::file (a pipe is read, above).
    if (::WaitForSingleObject(stop_event_, 0) == WAIT_OBJECT_0) return Got::stop;
    std::uint64_t at = 0;
    if (!position(stdin_, at)) {
        error = win_text(::GetLastError());
        return Got::error;
    }
    OVERLAPPED ov{};  // at an offset: a peek, not a read
    ov.Offset = static_cast<DWORD>(at & 0xFFFFFFFFu);
    ov.OffsetHigh = static_cast<DWORD>(at >> 32);
    DWORD got = 0;
    const DWORD want = static_cast<DWORD>(std::min<std::size_t>(cap, 1u << 30));
    if (::ReadFile(stdin_, buf, want, &got, &ov) == 0) {
        const DWORD e = ::GetLastError();
        if (e == ERROR_HANDLE_EOF) return Got::end;
        error = win_text(e);
        return Got::error;
    }
    // ReadFile with an offset still moves a synchronous handle's position: put it back.
    LARGE_INTEGER back{};
    back.QuadPart = static_cast<LONGLONG>(at);
    ::SetFilePointerEx(stdin_, back, nullptr, FILE_BEGIN);
    if (got == 0) return Got::end;
    n = got;
    last = n < cap;  // a file's end is known when the peek did not fill the buffer
    return Got::data;
}

// Input::file: the peeked bytes are taken by moving the position (shared with whoever gave us
// the handle, as POSIX shares a descriptor's offset).
bool LineSource::take(std::size_t n, std::string& error) {
    LARGE_INTEGER by{};
    by.QuadPart = static_cast<LONGLONG>(n);
    if (::SetFilePointerEx(stdin_, by, nullptr, FILE_CURRENT) != 0) return true;
    error = win_text(::GetLastError());
    return false;
}

}  // namespace qmtkit::cli
