// A tiny OEM firmware stand-in: drives qmtkit::core through one exchange and checks the result.
// Built by the consumer tests with -fno-exceptions -fno-rtti, as firmware is.
#include <cstdio>
#include <cstring>

#include "qmtkit/at/commands.hpp"
#include "qmtkit/at/engine.hpp"

namespace {
struct Uart final : qmtkit::at::Writer {
    char sent[64] = {};
    std::size_t n = 0;
    std::size_t write(const std::uint8_t* d, std::size_t len) override {
        for (std::size_t i = 0; i < len && n < sizeof(sent) - 1; ++i)
            sent[n++] = static_cast<char>(d[i]);
        return len;
    }
};
struct Handler final : qmtkit::at::CommandHandler {
    int finals = 0;
    bool ok = false;
    void on_final(const qmtkit::at::CommandRef&, const qmtkit::at::Outcome& o) override {
        ++finals;
        ok = o.has_value();
    }
};
}  // namespace

int main() {
    Uart uart;
    qmtkit::at::Engine<> engine(uart);
    Handler h;
    engine.poll(0);
    if (!engine.submit(qmtkit::at::cmd::attach_query, &h, 1)) return 1;
    engine.feed("\r\n+CGATT:1\r\n\r\nOK\r\n", 5);
    if (std::strcmp(uart.sent, "AT+CGATT?\r") != 0 || h.finals != 1 || !h.ok) {
        std::puts("consumer: unexpected exchange");
        return 1;
    }
    std::puts("consumer: qmtkit::core works");
    return 0;
}
