// The example firmware on the MPS2-AN385, as an OEM would write it: a superloop around
// qmt::Client<qmt::CompactConfig>, the UART HAL fed by interrupts, SysTick as the clock, the
// credential image from the last 4 KB of code memory. Reports on semihosting: the exit status
// is 0 once all 20 readings are acknowledged and `stop` came on the cmd topic, else non-zero
// with a `FAIL: ...` line: 1 after 120 s, 2 no valid image, 3 session refused, 4 a reading
// failed, 6 a hard fault.
#include <cstdint>

#include "cmsdk_uart.hpp"
#include "cortex_m3.hpp"
#include "example_app.hpp"
#include "qmtkit/baremetal/tick.hpp"
#include "qmtkit/baremetal/uart_link.hpp"
#include "qmtkit/cloud/image_session.hpp"
#include "qmtkit/qmt/client.hpp"
#include "semihosting.hpp"
#include "stack_usage.hpp"

namespace {

namespace bm = qmtkit::baremetal;
namespace qmt = qmtkit::qmt;
using bm::semihosting::Line;

constexpr std::uint32_t kBaud = 115200;
constexpr qmtkit::Instant kGiveUpMs = 120000;
constexpr qmtkit::Instant kStopMs = 5000;  // DISC + CLOSE at the end

// RX: a +QMTRECV line at CompactConfig's limit (352 B) and what follows it while the superloop
// feeds it. TX: the engine writes what fits and retries, so any size works; 256 B takes a short
// PUB command and its payload in one go.
bm::UartLink<bm::mps2::CmsdkUart0, 512, 256> uart;
bm::MillisecondTick tick;
extern qmt::Client<qmt::CompactConfig> client;
qmtkit::example::ExampleApp app(client);
qmt::Client<qmt::CompactConfig> client(uart, app);
qmtkit::cloud::ProfileStore profile;  // configure() copies it; kept static, off the stack

[[noreturn]] void finish(std::uint32_t code) {
    Line l;
    (l << "stack high-water: " << static_cast<std::uint32_t>(bm::stack_usage::high_water())
       << " B of " << static_cast<std::uint32_t>(bm::stack_usage::size()) << " B")
        .emit();
    (l << "ram: " << static_cast<std::uint32_t>(bm::stack_usage::ram_total()) << " B of "
       << static_cast<std::uint32_t>(bm::stack_usage::ram_limit()) << " B (stack included)")
        .emit();
    (l << "uart: rx stalls " << uart.rx_stalls() << ", link sessions " << client.stats().sessions
       << ", resent " << client.stats().resent)
        .emit();
    bm::semihosting::exit(code);
}

[[noreturn]] void fail(std::uint32_t code, std::string_view what) {
    (Line() << "FAIL: " << what).emit();
    finish(code);
}

// One superloop turn: what arrived to the client, its timers, then sleep until an interrupt
// (a byte, a TX completion or the next millisecond) unless bytes are waiting.
qmtkit::Instant turn() {
    const qmtkit::Instant now = tick.now();
    std::uint8_t bytes[64];
    const std::size_t n = uart.read(bytes, sizeof bytes);
    if (n != 0) client.feed(bytes, n, now);
    client.poll(now);
    bm::cortex_m3::sleep_unless([] { return !uart.rx_empty(); });
    return now;
}

}  // namespace

extern "C" void SysTick_Handler() {
    tick.on_tick();
}
extern "C" void UART0RX_Handler() {
    uart.on_rx_interrupt();
}
extern "C" void UART0TX_Handler() {
    uart.on_tx_interrupt();
}
// A fault (a stack overflow into .bss, a bad pointer) ends the run with a reason rather than
// a hang until the host's timeout.
extern "C" void HardFault_Handler() {
    bm::semihosting::write("FAIL: hard fault\n");
    bm::semihosting::exit(6);
}

extern "C" const std::uint8_t __credential_image[];
extern "C" const std::uint8_t __credential_image_size[];  // a linker symbol: its address

// The image's own extent (header, its TLV length, CRC), within the region: what follows it need
// not be erased flash (QEMU's code memory past a loaded file is zero, a flasher may not erase the
// whole 4 KB). A length past the region is left for the parser to call truncated.
static qmtkit::ByteView credential_region() {
    const std::size_t region = reinterpret_cast<std::uintptr_t>(__credential_image_size);
    const std::uint8_t* p = __credential_image;
    const std::size_t declared =
        qmtkit::image::kHeaderSize + (p[6] | (p[7] << 8)) + qmtkit::image::kCrcSize;
    return qmtkit::ByteView(p, declared < region ? declared : region);
}

int main() {
    bm::cortex_m3::systick_start(bm::mps2::kCpuHz / 1000);
    bm::mps2::CmsdkUart0::init(kBaud);

    const auto image = qmtkit::cloud::load_image(credential_region(), profile);
    if (!image) {
        Line l;
        (l << "FAIL: no valid credential image at 0x003FF000: "
           << qmtkit::image::to_string(image.error().code) << " (offset " << image.error().offset
           << ", tag " << image.error().tag << ")")
            .emit();
        finish(2);
    }
    const std::string_view device =
        !image->device_name.empty() ? image->device_name : image->client_id;
    if (const auto c = client.configure(profile.session); !c) {
        (Line() << "FAIL: the image's session was refused: " << qmt::to_string(c.error().code))
            .emit();
        finish(3);
    }
    if (!app.begin(device)) fail(3, app.fault());
    {
        Line l;
        (l << "image: profile " << static_cast<std::uint32_t>(image->profile) << ", device "
           << device)
            .emit();
    }
    if (const auto s = client.start(tick.now()); !s) {
        (Line() << "FAIL: the client did not start: " << qmt::to_string(s.error().code)).emit();
        finish(3);
    }

    for (;;) {
        const qmtkit::Instant now = turn();
        app.step();
        if (!app.fault().empty()) fail(4, app.fault());
        if (app.done()) break;
        if (now >= kGiveUpMs) {
            Line l;
            (l << "FAIL: 120 s passed: " << app.acknowledged() << " of " << app.kMessages
               << " acknowledged (" << app.queued() << " queued), stop "
               << (app.stop_seen() ? "received" : "not received") << ", link "
               << qmt::to_string(app.link()) << ", bring-up errors " << app.bringup_errors())
                .emit();
            finish(1);
        }
    }
    {
        Line l;
        (l << "done: " << app.acknowledged() << " of " << app.kMessages
           << " acknowledged, stop received")
            .emit();
    }
    // Leave the broker cleanly, as a device that powers down would.
    client.stop();
    const qmtkit::Instant stop_by = tick.now() + kStopMs;
    while (client.state() != qmt::LinkState::stopped && turn() < stop_by) {
    }
    finish(0);
}
