#include "qmtkit/host/transport.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#ifndef _WIN32
#include <sys/stat.h>

#include <cerrno>
#endif

namespace qmtkit::host {

// ---------------------------------------------------------------- Transport (shared logic)

Transport::~Transport() = default;

void Transport::start(ReceiveHandler on_receive, ErrorHandler on_error) {
    if (started_ || closed_) return;
    started_ = true;
    on_receive_ = std::move(on_receive);
    on_error_ = std::move(on_error);
    read_next();
}

void Transport::read_next() {
    auto self = shared_from_this();
    const std::uint64_t gen = generation_;
    do_read(asio::buffer(rx_buf_), [this, self, gen](std::error_code ec, std::size_t n) {
        if (closed_ || gen != generation_) return;  // closed, or a completion of an earlier opening
        if (n > 0) {
            bytes_read_ += n;
            if (on_receive_) on_receive_(rx_buf_.data(), n);
            if (closed_ || gen != generation_) return;  // the handler closed (or reopened) us
        }
        if (ec) {
            fail(ec);
            return;
        }
        read_next();
    });
}

std::size_t Transport::write(const std::uint8_t* data, std::size_t size) {
    if (closed_ || size == 0) return 0;
    const std::size_t room = tx_capacity_ > tx_pending() ? tx_capacity_ - tx_pending() : 0;
    const std::size_t take = std::min(room, size);
    if (take < size) short_write_ = true;
    tx_queued_.insert(tx_queued_.end(), data, data + take);
    if (!writing_ && !tx_queued_.empty()) write_next();
    return take;
}

void Transport::write_next() {
    if (tx_queued_.empty() || closed_) {
        writing_ = false;
        return;
    }
    writing_ = true;
    tx_inflight_.swap(tx_queued_);
    tx_queued_.clear();
    auto self = shared_from_this();
    const std::uint64_t gen = generation_;
    do_write(asio::buffer(tx_inflight_), [this, self, gen](std::error_code ec, std::size_t n) {
        if (closed_ || gen != generation_) return;
        bytes_written_ += n;
        tx_inflight_.clear();
        if (ec) {
            writing_ = false;
            fail(ec);
            return;
        }
        write_next();
        if (short_write_) {
            short_write_ = false;
            if (on_drain_) on_drain_();
        }
    });
}

void Transport::fail(std::error_code ec) {
    if (closed_) return;
    ErrorHandler h = std::move(on_error_);
    close();
    if (h) h(ec);
}

void Transport::close() {
    if (closed_ && !opening_) return;
    ++generation_;  // whatever is still pending belongs to this opening: never delivered
    closed_ = true;
    opening_ = false;
    writing_ = false;
    tx_queued_.clear();
    do_close();
    // Handlers may hold captures of their owners: drop them now, not at destruction.
    on_receive_ = nullptr;
    on_error_ = nullptr;
    on_drain_ = nullptr;
}

void Transport::reopen(OpenHandler done) {
    if (!closed_ || opening_) {
        if (done) done(std::make_error_code(std::errc::operation_in_progress));
        return;
    }
    opening_ = true;
    const std::uint64_t gen = ++generation_;
    auto self = shared_from_this();
    do_reopen([this, self, gen, done = std::move(done)](std::error_code ec) {
        if (gen != generation_) return;  // close()d meanwhile: nobody waits for this attempt
        opening_ = false;
        if (!ec) {
            closed_ = false;
            started_ = false;
            writing_ = false;
            short_write_ = false;
            tx_queued_.clear();
            tx_inflight_.clear();
        }
        if (done) done(ec);
    });
}

// ---------------------------------------------------------------- serial

SerialTransport::SerialTransport(asio::io_context& io, std::string device,
                                 const SerialOptions& opts)
    : Transport(io.get_executor()), port_(io), device_(std::move(device)), opts_(opts) {
    std::string what;
    if (const std::error_code ec = open_port(what)) throw TransportError(what, ec);
}

std::error_code SerialTransport::open_port(std::string& what) {
    std::error_code ec;
    port_.open(device_, ec);
    if (ec) {
        what = "cannot open serial device " + device_ + ": " + ec.message();
        return ec;
    }
    bool failed = false;
    auto set = [&](auto option, const char* name) {
        if (failed) return;
        port_.set_option(option, ec);
        if (!ec) return;
        failed = true;
        std::error_code ignored;
        port_.close(ignored);
        what = "cannot set " + std::string(name) + " on " + device_ + ": " + ec.message();
    };
    set(asio::serial_port_base::baud_rate(opts_.baud), "baud rate");
    set(asio::serial_port_base::character_size(8), "character size");
    set(asio::serial_port_base::parity(asio::serial_port_base::parity::none), "parity");
    set(asio::serial_port_base::stop_bits(asio::serial_port_base::stop_bits::one), "stop bits");
    set(asio::serial_port_base::flow_control(opts_.flow == FlowControl::hardware
                                                 ? asio::serial_port_base::flow_control::hardware
                                                 : asio::serial_port_base::flow_control::none),
        "flow control");
    return failed ? ec : std::error_code{};
}

void SerialTransport::do_reopen(OpenHandler done) {
    std::error_code ignored;
    port_.close(ignored);
    std::string what;
    done(open_port(what));
}

bool SerialTransport::reopenable() const {
    return device_.rfind("/dev/pts/", 0) != 0;
}

std::error_code SerialTransport::check_present() {
#ifdef _WIN32
    return {};  // a COM port that goes away fails its I/O
#else
    if (!port_.is_open()) return {};
    struct stat by_path {};
    struct stat held {};
    if (::stat(device_.c_str(), &by_path) != 0) return {errno, std::system_category()};
    if (::fstat(port_.native_handle(), &held) != 0) return {errno, std::system_category()};
    if (by_path.st_dev != held.st_dev || by_path.st_ino != held.st_ino ||
        by_path.st_rdev != held.st_rdev) {
        return std::make_error_code(std::errc::no_such_device);  // the name is another node now
    }
    return {};
#endif
}

std::shared_ptr<SerialTransport> SerialTransport::open(asio::io_context& io,
                                                       const std::string& device,
                                                       const SerialOptions& opts) {
    return std::make_shared<SerialTransport>(io, device, opts);
}

std::uint32_t SerialTransport::byte_time_us() const {
    // 10 bits a byte (start, 8 data, stop).
    return opts_.baud == 0
               ? 0
               : static_cast<std::uint32_t>((10'000'000ull + opts_.baud - 1) / opts_.baud);
}

std::string SerialTransport::description() const {
    return device_ + " @ " + std::to_string(opts_.baud);
}

void SerialTransport::do_read(asio::mutable_buffer buf, IoHandler h) {
    port_.async_read_some(buf, std::move(h));
}

void SerialTransport::do_write(asio::const_buffer buf, IoHandler h) {
    asio::async_write(port_, buf, std::move(h));
}

void SerialTransport::do_close() {
    std::error_code ignored;
    port_.cancel(ignored);
    port_.close(ignored);
}

// ---------------------------------------------------------------- TCP

TcpTransport::TcpTransport(asio::ip::tcp::socket socket, std::string name)
    : Transport(socket.get_executor()), socket_(std::move(socket)), name_(std::move(name)) {
    std::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

std::shared_ptr<TcpTransport> TcpTransport::connect(asio::io_context& io, const std::string& host,
                                                    std::uint16_t port) {
    const std::string name = "tcp://" + host + ":" + std::to_string(port);
    asio::ip::tcp::resolver resolver(io);
    std::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) throw TransportError("cannot resolve " + name + ": " + ec.message(), ec);
    asio::ip::tcp::socket socket(io);
    asio::connect(socket, endpoints, ec);
    if (ec) throw TransportError("cannot connect to " + name + ": " + ec.message(), ec);
    auto t = std::make_shared<TcpTransport>(std::move(socket), name);
    t->host_ = host;
    t->port_ = port;
    return t;
}

std::shared_ptr<TcpTransport> TcpTransport::adopt(asio::ip::tcp::socket socket) {
    std::string name = "tcp://(adopted)";
    std::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) name = "tcp://" + ep.address().to_string() + ":" + std::to_string(ep.port());
    return std::make_shared<TcpTransport>(std::move(socket), name);
}

std::string TcpTransport::description() const {
    return name_;
}

void TcpTransport::do_read(asio::mutable_buffer buf, IoHandler h) {
    socket_.async_read_some(buf, std::move(h));
}

void TcpTransport::do_write(asio::const_buffer buf, IoHandler h) {
    asio::async_write(socket_, buf, std::move(h));
}

void TcpTransport::do_close() {
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

void TcpTransport::do_reopen(OpenHandler done) {
    std::error_code ec;
    socket_.close(ec);
    // Resolving is synchronous (a numeric address costs nothing; a name is looked up as
    // connect() does); the connect itself is asynchronous, and close() cancels it.
    asio::ip::tcp::resolver resolver(socket_.get_executor());
    auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) {
        done(ec);
        return;
    }
    asio::async_connect(
        socket_, endpoints,
        [this, done = std::move(done)](std::error_code e, const asio::ip::tcp::endpoint&) {
            if (!e) {
                std::error_code ignored;
                socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
            }
            done(e);
        });
}

// ---------------------------------------------------------------- factory

bool parse_tcp_spec(const std::string& spec, std::string& host, std::uint16_t& port) {
    static constexpr char kScheme[] = "tcp://";
    if (spec.compare(0, sizeof(kScheme) - 1, kScheme) != 0) return false;
    const std::string rest = spec.substr(sizeof(kScheme) - 1);
    std::string h;
    std::string p;
    if (!rest.empty() && rest.front() == '[') {  // tcp://[::1]:5000
        const auto close = rest.find(']');
        if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return false;
        h = rest.substr(1, close - 1);
        p = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string::npos) return false;
        h = rest.substr(0, colon);
        p = rest.substr(colon + 1);
    }
    if (h.empty() || p.empty()) return false;
    unsigned value = 0;
    const auto res = std::from_chars(p.data(), p.data() + p.size(), value);
    if (res.ec != std::errc() || res.ptr != p.data() + p.size() || value == 0 || value > 65535)
        return false;
    host = h;
    port = static_cast<std::uint16_t>(value);
    return true;
}

std::shared_ptr<Transport> open_transport(asio::io_context& io, const std::string& spec,
                                          const SerialOptions& opts) {
    if (spec.compare(0, 6, "tcp://") == 0) {
        std::string host;
        std::uint16_t port = 0;
        if (!parse_tcp_spec(spec, host, port))
            throw TransportError("malformed TCP device '" + spec + "' (expected tcp://HOST:PORT)",
                                 std::make_error_code(std::errc::invalid_argument));
        return TcpTransport::connect(io, host, port);
    }
    if (spec.empty())
        throw TransportError("no device given", std::make_error_code(std::errc::invalid_argument));
    return SerialTransport::open(io, spec, opts);
}

}  // namespace qmtkit::host
