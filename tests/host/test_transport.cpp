// Transports over a real pseudo-terminal pair and a loopback TCP socket.
#include <string>

#include "qmtkit/host/transport.hpp"
#include "support.hpp"

namespace qmtkit::host {
namespace {

using test::PtyModule;
using test::run_until;

std::size_t write_text(Transport& t, const std::string& s) {
    return t.write(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

TEST(SerialTransport, WritesAndReceivesOverPty) {
    asio::io_context io;
    PtyModule module(io);
    auto port = open_transport(io, module.slave_path(), SerialOptions{115200, FlowControl::none});
    std::string rx;
    port->start([&](const std::uint8_t* d, std::size_t n) {
        rx.append(reinterpret_cast<const char*>(d), n);
    });

    EXPECT_EQ(write_text(*port, "AT+QMTOPEN=0,\"127.0.0.1\",1883\r"), 30u);
    ASSERT_TRUE(run_until(io, [&] { return module.received.size() >= 30; }));
    EXPECT_EQ(module.received, "AT+QMTOPEN=0,\"127.0.0.1\",1883\r");

    // Every byte value survives the raw line (no CR/LF translation, no flow-control bytes eaten).
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    module.write("\r\nOK\r\n" + all);
    ASSERT_TRUE(run_until(io, [&] { return rx.size() >= 6 + all.size(); }));
    EXPECT_EQ(rx, "\r\nOK\r\n" + all);
    EXPECT_EQ(port->bytes_read(), rx.size());
    EXPECT_EQ(port->bytes_written(), 30u);
    EXPECT_NE(port->description().find(module.slave_path()), std::string::npos);
    EXPECT_EQ(port->byte_time_us(), 87u);  // 10 bits at 115200 baud
}

TEST(SerialTransport, HardwareFlowControlOptionIsAccepted) {
    asio::io_context io;
    PtyModule module(io);
    auto port =
        SerialTransport::open(io, module.slave_path(), SerialOptions{9600, FlowControl::hardware});
    asio::serial_port_base::flow_control fc;
    port->port().get_option(fc);
    EXPECT_EQ(fc.value(), asio::serial_port_base::flow_control::hardware);
    asio::serial_port_base::baud_rate br;
    port->port().get_option(br);
    EXPECT_EQ(br.value(), 9600u);
    EXPECT_EQ(port->byte_time_us(), 1042u);
}

TEST(SerialTransport, BoundedTxBufferTakesWhatFitsAndReportsDrain) {
    asio::io_context io;
    PtyModule module(io);
    auto port = open_transport(io, module.slave_path());
    port->set_tx_capacity(16);
    int drains = 0;
    port->set_drain_handler([&] { ++drains; });
    port->start([](const std::uint8_t*, std::size_t) {});

    const std::string text(40, 'x');
    const std::size_t took = write_text(*port, text);
    EXPECT_EQ(took, 16u);
    EXPECT_EQ(port->tx_pending(), 16u);
    EXPECT_EQ(write_text(*port, "y"), 0u);  // full until the async write completes
    ASSERT_TRUE(run_until(io, [&] { return drains > 0; }));
    EXPECT_EQ(port->tx_pending(), 0u);
    EXPECT_EQ(write_text(*port, text.substr(took)), 16u);
    ASSERT_TRUE(run_until(io, [&] { return module.received.size() >= 32; }));
    EXPECT_EQ(module.received, std::string(32, 'x'));
}

TEST(SerialTransport, MissingDeviceThrowsNamingIt) {
    asio::io_context io;
    try {
        open_transport(io, "/dev/qmtkit-no-such-tty");
        FAIL() << "no exception";
    } catch (const TransportError& e) {
        EXPECT_NE(std::string(e.what()).find("/dev/qmtkit-no-such-tty"), std::string::npos);
        EXPECT_TRUE(e.code());
    }
}

TEST(SerialTransport, CloseStopsHandlers) {
    asio::io_context io;
    PtyModule module(io);
    auto port = open_transport(io, module.slave_path());
    int calls = 0;
    port->start([&](const std::uint8_t*, std::size_t) { ++calls; },
                [&](std::error_code) { ++calls; });
    port->close();
    EXPECT_FALSE(port->is_open());
    EXPECT_EQ(write_text(*port, "AT\r"), 0u);
    module.write("\r\nOK\r\n");
    io.poll();  // the cancelled read completes now: it must not call us
    EXPECT_EQ(calls, 0);
}

TEST(TcpSpec, Parses) {
    std::string host;
    std::uint16_t port = 0;
    EXPECT_TRUE(parse_tcp_spec("tcp://127.0.0.1:5000", host, port));
    EXPECT_EQ(host, "127.0.0.1");
    EXPECT_EQ(port, 5000);
    EXPECT_TRUE(parse_tcp_spec("tcp://[::1]:7", host, port));
    EXPECT_EQ(host, "::1");
    EXPECT_EQ(port, 7);
    EXPECT_TRUE(parse_tcp_spec("tcp://localhost:1", host, port));
    EXPECT_FALSE(parse_tcp_spec("/dev/ttyUSB0", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://127.0.0.1", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://127.0.0.1:", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://:5000", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://h:0", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://h:65536", host, port));
    EXPECT_FALSE(parse_tcp_spec("tcp://h:12x", host, port));
    asio::io_context io;
    EXPECT_THROW(open_transport(io, "tcp://127.0.0.1"), TransportError);
}

struct TcpPair {
    asio::io_context& io;
    asio::ip::tcp::acceptor acceptor{
        io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    asio::ip::tcp::socket peer{io};
    std::shared_ptr<Transport> transport;

    explicit TcpPair(asio::io_context& ctx) : io(ctx) {
        const auto port = acceptor.local_endpoint().port();
        transport = open_transport(io, "tcp://127.0.0.1:" + std::to_string(port));
        acceptor.accept(peer);  // the handshake is complete already: this returns at once
    }
};

TEST(TcpTransport, WritesAndReceivesOverLoopback) {
    asio::io_context io;
    TcpPair pair(io);
    std::string rx;
    pair.transport->start([&](const std::uint8_t* d, std::size_t n) {
        rx.append(reinterpret_cast<const char*>(d), n);
    });
    EXPECT_EQ(pair.transport->byte_time_us(), 0u);
    EXPECT_EQ(pair.transport->description().rfind("tcp://127.0.0.1:", 0), 0u);

    EXPECT_EQ(write_text(*pair.transport, "AT\r"), 3u);
    std::string got;
    char buf[64];
    asio::ip::tcp::socket& peer = pair.peer;
    std::function<void()> read_more = [&] {
        peer.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
            got.append(buf, n);
            if (!ec) read_more();
        });
    };
    read_more();
    ASSERT_TRUE(run_until(io, [&] { return got.size() >= 3; }));
    EXPECT_EQ(got, "AT\r");

    asio::write(peer, asio::buffer(std::string("\r\nOK\r\n")));
    ASSERT_TRUE(run_until(io, [&] { return rx.size() >= 6; }));
    EXPECT_EQ(rx, "\r\nOK\r\n");
    pair.transport->close();
    std::error_code ignored;
    peer.close(ignored);
    io.poll();
}

TEST(TcpTransport, PeerCloseReportsErrorOnce) {
    asio::io_context io;
    TcpPair pair(io);
    int errors = 0;
    std::error_code last;
    pair.transport->start([](const std::uint8_t*, std::size_t) {},
                          [&](std::error_code ec) {
                              ++errors;
                              last = ec;
                          });
    pair.peer.close();
    ASSERT_TRUE(run_until(io, [&] { return errors > 0; }));
    EXPECT_EQ(errors, 1);
    EXPECT_EQ(last, asio::error::eof);
    EXPECT_FALSE(pair.transport->is_open());
}

TEST(TcpTransport, RefusedConnectionThrows) {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        asio::ip::tcp::acceptor a(io,
                                  asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }  // closed: nothing listens there now
    EXPECT_THROW(open_transport(io, "tcp://127.0.0.1:" + std::to_string(port)), TransportError);
}

}  // namespace
}  // namespace qmtkit::host
