// Byte transports between the host and a module: a serial port (asio::serial_port: one code path
// for Linux and Windows) or a TCP stream (terminal servers, the emulator's TCP mode).
//
// A Transport is the engine's at::Writer: write() copies what fits into a bounded tx buffer and
// returns at once (an async_write drains it); received bytes go to the receive handler. Every
// handler runs on the thread that runs the io_context; nothing here starts a thread.
//
//   asio::io_context io;
//   auto port = qmtkit::host::open_transport(io, "/dev/ttyUSB0", {9600});   // or
//   "tcp://127.0.0.1:5000" port->start([&](const std::uint8_t* d, std::size_t n) { ... },
//   [&](std::error_code ec) { ... });
#pragma once

#include <asio.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "qmtkit/at/engine.hpp"

namespace qmtkit::host {

enum class FlowControl : std::uint8_t { none, hardware };

struct SerialOptions {
    unsigned baud = 9600;  // 8 data bits, no parity, 1 stop bit always (8N1)
    FlowControl flow = FlowControl::none;
};

// open_transport() and the constructors throw this when a device cannot be opened or a TCP
// endpoint cannot be reached; what() names the device and the cause.
class TransportError : public std::runtime_error {
  public:
    TransportError(const std::string& what, std::error_code ec)
        : std::runtime_error(what), code_(ec) {}
    std::error_code code() const { return code_; }

  private:
    std::error_code code_;
};

class Transport : public at::Writer, public std::enable_shared_from_this<Transport> {
  public:
    using ReceiveHandler = std::function<void(const std::uint8_t* data, std::size_t size)>;
    // The stream failed or closed (EOF, device unplugged, peer reset). Called once; the transport
    // is closed afterwards.
    using ErrorHandler = std::function<void(std::error_code ec)>;
    // tx buffer space was freed after a write() that could not take everything.
    using DrainHandler = std::function<void()>;
    // A reopen() attempt ended: success (empty code) or why the device could not be opened.
    using OpenHandler = std::function<void(std::error_code ec)>;

    static constexpr std::size_t kDefaultTxCapacity = 4096;

    virtual ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Starts reading. Handlers run on the io_context; may be called once per opening (again
    // after a successful reopen()).
    void start(ReceiveHandler on_receive, ErrorHandler on_error = {});
    void set_drain_handler(DrainHandler h) { on_drain_ = std::move(h); }

    // at::Writer: non-blocking; copies up to the free tx space and returns how much it took.
    std::size_t write(const std::uint8_t* data, std::size_t size) override;

    // Cancels I/O and closes the stream; no handler is called afterwards (a pending reopen()'s
    // included).
    void close();
    bool is_open() const { return !closed_; }

    // ---- a device that goes away and comes back (the runner's reopen loop, runner.hpp)
    // Whether reopen() can work: a serial device (by its path) or a TCP endpoint made by
    // TcpTransport::connect(); not an adopted socket.
    virtual bool reopenable() const { return false; }
    // Opens the same device again after close() or a failure. `done` runs once, on the
    // io_context thread (a serial device: before reopen() returns; TCP: when the connect ends);
    // on success the transport is open with empty tx buffers and not started: call start()
    // again. Handlers of the previous opening are never called afterwards.
    void reopen(OpenHandler done);
    // Whether the device the transport has open is still the one its name gives. A serial
    // device: its path must still exist and name the same device node (a USB modem that
    // re-enumerates loses its node; a symlink may be removed or point elsewhere) — POSIX
    // stat() against the open descriptor; always fine on Windows and for TCP, whose failures
    // show as I/O errors. Empty when fine, else why not.
    virtual std::error_code check_present() { return {}; }

    std::size_t tx_pending() const { return tx_queued_.size() + tx_inflight_.size(); }
    std::size_t tx_capacity() const { return tx_capacity_; }
    void set_tx_capacity(std::size_t bytes) { tx_capacity_ = bytes; }
    // Bytes sent / received so far.
    std::uint64_t bytes_written() const { return bytes_written_; }
    std::uint64_t bytes_read() const { return bytes_read_; }

    // The time one byte takes on the line in µs (for at::EngineCore::set_byte_time_us); 0 for TCP.
    virtual std::uint32_t byte_time_us() const = 0;
    // "/dev/ttyUSB0 @ 9600" / "tcp://127.0.0.1:5000".
    virtual std::string description() const = 0;
    asio::any_io_executor executor() const { return executor_; }

  protected:
    explicit Transport(asio::any_io_executor ex) : executor_(std::move(ex)) {}

    using IoHandler = std::function<void(std::error_code, std::size_t)>;
    virtual void do_read(asio::mutable_buffer buf, IoHandler h) = 0;
    virtual void do_write(asio::const_buffer buf, IoHandler h) = 0;  // writes all of buf
    virtual void do_close() = 0;
    // Opens the OS handle again; calls `done` exactly once (see reopen()).
    virtual void do_reopen(OpenHandler done) {
        done(std::make_error_code(std::errc::operation_not_supported));
    }

  private:
    void read_next();
    void write_next();
    void fail(std::error_code ec);

    asio::any_io_executor executor_;
    ReceiveHandler on_receive_;
    ErrorHandler on_error_;
    DrainHandler on_drain_;
    std::vector<std::uint8_t> rx_buf_ = std::vector<std::uint8_t>(1024);
    std::vector<std::uint8_t> tx_queued_;    // taken by write(), not yet handed to the stream
    std::vector<std::uint8_t> tx_inflight_;  // being written
    std::size_t tx_capacity_ = kDefaultTxCapacity;
    bool started_ = false;
    bool closed_ = false;
    bool opening_ = false;  // a reopen() is under way
    bool writing_ = false;
    bool short_write_ = false;  // write() refused bytes: tell the drain handler when space frees
    std::uint64_t bytes_written_ = 0;
    std::uint64_t bytes_read_ = 0;
    std::uint64_t generation_ = 0;  // bumped by close() and reopen(): older completions are stale
};

// A serial port: 8N1, the given baud and flow control.
class SerialTransport final : public Transport {
  public:
    // Throws TransportError.
    static std::shared_ptr<SerialTransport> open(asio::io_context& io, const std::string& device,
                                                 const SerialOptions& opts = {});
    std::uint32_t byte_time_us() const override;
    std::string description() const override;
    asio::serial_port& port() { return port_; }
    const std::string& device() const { return device_; }
    // Any device path but a pseudo-terminal's own name (/dev/pts/N), which dies with the pty:
    // the kernel gives the number to the next pty anyone makes, so opening it again would reach
    // a stranger. A stable name — /dev/ttyUSB0, /dev/serial/by-id/..., a symlink such as
    // bc28-sim's --link — is looked for again.
    bool reopenable() const override;
    std::error_code check_present() override;

    SerialTransport(asio::io_context& io, std::string device, const SerialOptions& opts);

  private:
    void do_read(asio::mutable_buffer buf, IoHandler h) override;
    void do_write(asio::const_buffer buf, IoHandler h) override;
    void do_close() override;
    void do_reopen(OpenHandler done) override;
    // Opens device_ with opts_; on failure `what` names the step and the port is closed.
    std::error_code open_port(std::string& what);

    asio::serial_port port_;
    std::string device_;
    SerialOptions opts_;
};

// A TCP stream to a terminal server or the emulator's TCP mode.
class TcpTransport final : public Transport {
  public:
    // Resolves and connects (blocking, 127.0.0.1 or any host name). Throws TransportError.
    static std::shared_ptr<TcpTransport> connect(asio::io_context& io, const std::string& host,
                                                 std::uint16_t port);
    // Wraps an already connected socket (a test's loopback pair, an accepted connection).
    static std::shared_ptr<TcpTransport> adopt(asio::ip::tcp::socket socket);
    std::uint32_t byte_time_us() const override { return 0; }
    std::string description() const override;
    asio::ip::tcp::socket& socket() { return socket_; }
    // Made by connect(): reopen() resolves and connects again (asynchronously).
    bool reopenable() const override { return !host_.empty(); }

    explicit TcpTransport(asio::ip::tcp::socket socket, std::string name);

  private:
    void do_read(asio::mutable_buffer buf, IoHandler h) override;
    void do_write(asio::const_buffer buf, IoHandler h) override;
    void do_close() override;
    void do_reopen(OpenHandler done) override;

    asio::ip::tcp::socket socket_;
    std::string name_;
    std::string host_;  // connect()'s endpoint, for reopen(); empty when adopted
    std::uint16_t port_ = 0;
};

// "tcp://HOST:PORT" → TCP; anything else is a serial device path ("/dev/ttyUSB0", "COM3").
// Throws TransportError (also for a malformed tcp:// spec).
std::shared_ptr<Transport> open_transport(asio::io_context& io, const std::string& spec,
                                          const SerialOptions& opts = {});

// Splits "tcp://HOST:PORT"; false when `spec` is not of that form.
bool parse_tcp_spec(const std::string& spec, std::string& host, std::uint16_t& port);

}  // namespace qmtkit::host
