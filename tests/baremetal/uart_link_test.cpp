// The bare-metal HAL on the host: the SPSC ring's bounds and wrap-around, and UartLink against a
// UART model with a one-byte receive register that lets the next byte in when it is read (as
// the CMSDK UART and QEMU's model do): flow control when the ring is full, re-pending, order
// of acknowledgement and draining, a transmit path that never waits.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "qmtkit/baremetal/spsc_ring.hpp"
#include "qmtkit/baremetal/uart_link.hpp"

namespace qmtkit::baremetal {
namespace {

TEST(SpscRing, HoldsCapacityBytesThenRefuses) {
    SpscRing<8> r;
    EXPECT_TRUE(r.empty());
    for (std::uint8_t i = 0; i < 8; ++i) EXPECT_TRUE(r.push(i));
    EXPECT_TRUE(r.full());
    EXPECT_FALSE(r.push(99));
    std::uint8_t b = 0;
    ASSERT_TRUE(r.pop(b));
    EXPECT_EQ(b, 0);
    const std::uint8_t more[3] = {8, 9, 10};
    EXPECT_EQ(r.push(more, 3), 1u);  // one slot was free
    std::uint8_t out[16];
    ASSERT_EQ(r.pop(out, sizeof out), 8u);
    for (std::uint8_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], i + 1);
    EXPECT_FALSE(r.pop(b));
}

TEST(SpscRing, KeepsOrderAcrossManyWraps) {
    SpscRing<16> r;
    std::uint8_t next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; ++round) {
        std::uint8_t chunk[11];
        for (auto& c : chunk) c = next_in++;
        ASSERT_EQ(r.push(chunk, sizeof chunk), sizeof chunk);
        std::uint8_t out[11];
        ASSERT_EQ(r.pop(out, sizeof out), sizeof out);
        for (std::uint8_t c : out) ASSERT_EQ(c, next_out++);
    }
    EXPECT_TRUE(r.empty());
}

// The UART and its two NVIC lines.
struct FakeUart {
    static inline std::deque<std::uint8_t> line;  // bytes still on the wire
    static inline int rx_reg = -1;                // the receive register (-1: empty)
    static inline bool rx_flag = false, rx_enabled = true, rx_pending = false;
    static inline std::vector<std::string> calls;
    static inline std::vector<std::uint8_t> sent;
    static inline bool tx_busy = false;  // the one-byte transmit buffer holds a byte
    static inline bool tx_enabled = true, tx_pending = false;

    static void reset() {
        line.clear();
        rx_reg = -1;
        rx_flag = false;
        rx_enabled = true;
        rx_pending = false;
        calls.clear();
        sent.clear();
        tx_busy = false;
        tx_enabled = false;
        tx_pending = false;
    }
    // The wire delivers a byte when the register is free; that raises the RX flag.
    static void deliver() {
        if (rx_reg < 0 && !line.empty()) {
            rx_reg = line.front();
            line.pop_front();
            rx_flag = true;
        }
    }
    static bool rx_ready() { return rx_reg >= 0; }
    static std::uint8_t rx_take() {
        calls.push_back("take");
        const auto b = static_cast<std::uint8_t>(rx_reg);
        rx_reg = -1;
        deliver();  // at once, as QEMU's model does: the flag is set again here
        return b;
    }
    static void rx_ack() {
        calls.push_back("ack");
        rx_flag = false;
    }
    static void rx_irq_off() { rx_enabled = false; }
    static void rx_irq_on() {
        rx_pending = true;
        rx_enabled = true;
    }
    static bool tx_ready() { return !tx_busy; }
    static void tx_put(std::uint8_t b) {
        sent.push_back(b);
        tx_busy = true;
    }
    static void tx_ack() { tx_pending = false; }
    static void tx_irq_on() {
        tx_pending = true;
        tx_enabled = true;
    }
    static void tx_irq_off() { tx_enabled = false; }
    // The transmitter finished its byte: buffer free, TX interrupt pending.
    static void tx_done() {
        tx_busy = false;
        tx_pending = true;
    }
};

using Link = UartLink<FakeUart, 8, 8>;

// Runs the RX handler while the NVIC would: enabled and (flag set or pended).
void run_rx_interrupts(Link& link) {
    while (FakeUart::rx_enabled && (FakeUart::rx_flag || FakeUart::rx_pending)) {
        FakeUart::rx_pending = false;
        link.on_rx_interrupt();
    }
}

std::string read_all(Link& link) {
    std::string got;
    std::uint8_t b[3];
    for (std::size_t n; (n = link.read(b, sizeof b)) != 0;) got.append(b, b + n);
    return got;
}

class UartLinkTest : public ::testing::Test {
  protected:
    void SetUp() override { FakeUart::reset(); }
};

TEST_F(UartLinkTest, FullRingLeavesTheByteInTheUartAndMasksThenResumesWithoutLoss) {
    Link link;
    const std::string text = "AT+QMTRECV: 0,1,\"t\",twenty-six bytes";
    FakeUart::line.assign(text.begin(), text.end());
    FakeUart::deliver();
    run_rx_interrupts(link);
    // Eight bytes in the ring, the ninth waits in the register, the interrupt is masked.
    EXPECT_FALSE(FakeUart::rx_enabled);
    EXPECT_EQ(link.rx_stalls(), 1u);
    ASSERT_TRUE(FakeUart::rx_ready());
    EXPECT_EQ(FakeUart::rx_reg, text[8]);
    std::string got;
    for (int turn = 0; turn < 100 && got.size() < text.size(); ++turn) {
        std::uint8_t b[3];
        const std::size_t n = link.read(b, sizeof b);
        got.append(b, b + n);
        // Room made: re-pended and enabled, so the handler picks up the byte left behind.
        EXPECT_TRUE(FakeUart::rx_enabled);
        run_rx_interrupts(link);
    }
    EXPECT_EQ(got, text);
    EXPECT_GT(link.rx_stalls(), 1u);
}

TEST_F(UartLinkTest, RxFlagIsClearedBeforeTheRegisterIsRead) {
    Link link;
    FakeUart::line = {'O', 'K'};
    FakeUart::deliver();
    run_rx_interrupts(link);
    ASSERT_GE(FakeUart::calls.size(), 3u);
    EXPECT_EQ(FakeUart::calls[0], "ack");
    EXPECT_EQ(FakeUart::calls[1], "take");
    EXPECT_EQ(read_all(link), "OK");
    // The second byte set the flag during the first read: it was not cleared after it.
    EXPECT_FALSE(FakeUart::rx_flag);
    EXPECT_TRUE(FakeUart::rx_enabled);
}

// Runs the TX handler while the NVIC would.
void run_tx_interrupts(Link& link) {
    while (FakeUart::tx_enabled && FakeUart::tx_pending) link.on_tx_interrupt();
}

TEST_F(UartLinkTest, WriteTakesWhatFitsAndTheTxInterruptDrainsItThenTurnsItselfOff) {
    Link link;
    const std::string cmd = "AT+QMTCONN?\r";  // 12 bytes, a ring of 8
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(cmd.data());
    std::size_t off = link.write(bytes, cmd.size());
    EXPECT_EQ(off, 8u);  // never waits for the UART
    EXPECT_TRUE(FakeUart::sent.empty());
    // An idle UART raises no TX interrupt by itself: write() made it run.
    EXPECT_TRUE(FakeUart::tx_enabled && FakeUart::tx_pending);
    run_tx_interrupts(link);
    ASSERT_EQ(FakeUart::sent.size(), 1u);  // a one-byte buffer: the rest as it empties
    for (int turn = 0; turn < 100 && FakeUart::sent.size() < cmd.size(); ++turn) {
        FakeUart::tx_done();
        run_tx_interrupts(link);
        off += link.write(bytes + off, cmd.size() - off);
    }
    EXPECT_EQ(std::string(FakeUart::sent.begin(), FakeUart::sent.end()), cmd);
    // The ring ran dry: the interrupt is off until the next write.
    FakeUart::tx_done();
    run_tx_interrupts(link);
    EXPECT_FALSE(FakeUart::tx_enabled);
    EXPECT_TRUE(link.tx_empty());
}

}  // namespace
}  // namespace qmtkit::baremetal
