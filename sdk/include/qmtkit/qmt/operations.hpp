// The low-level operations (manual mode, tools, tests): every command of the note, validated,
// completing through Listener::on_reply. The ticket is the engine's sequence number; the tag
// says which operation it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/context.hpp"

namespace qmtkit::qmt::detail {

class Operations final : public at::CommandHandler {
  public:
    // A query's information line is kept in the session pool's unused end (see keep()).
    Operations(Context& ctx, const SessionStore& session) : ctx_(ctx), session_(session) {}

    Result<std::uint32_t> open(std::string_view host, std::uint16_t port);
    Result<std::uint32_t> close();
    Result<std::uint32_t> connect(std::string_view client_id, std::string_view username,
                                  std::string_view password);
    Result<std::uint32_t> disconnect();
    Result<std::uint32_t> set_version(std::uint8_t vsn);
    Result<std::uint32_t> set_keepalive(std::uint16_t seconds);
    Result<std::uint32_t> set_session(bool clean);
    Result<std::uint32_t> set_timeout(std::uint8_t pkt_timeout_s, std::uint8_t retry_times,
                                      bool notice);
    Result<std::uint32_t> set_will(const Will* will);
    Result<std::uint32_t> set_aliauth(const AliAuth& a);
    Result<std::uint32_t> tenauth(const TenAuth& t, bool alt_spelling);
    Result<std::uint32_t> query_cfg(std::string_view item);
    Result<std::uint32_t> query_open();
    Result<std::uint32_t> query_conn();
    Result<std::uint32_t> query_tenauth(bool alt_spelling);
    Result<std::uint32_t> test(Op which, bool alt_spelling);
    Result<std::uint32_t> subscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                         const std::uint8_t* qos, std::size_t n);
    Result<std::uint32_t> unsubscribe_many(std::uint16_t msg_id, const std::string_view* filters,
                                           std::size_t n);

  private:
    void on_info(const at::CommandRef& r, std::string_view line) override;
    void on_final(const at::CommandRef& r, const at::Outcome& o) override;
    at::ResultVerdict on_result(const at::CommandRef& r, std::string_view line) override;
    void on_result_error(const at::CommandRef& r, const at::AtError& e) override;

    template <class Fn>
    Result<std::uint32_t> submit(const at::CommandSpec& spec, Op op, at::Timeouts t, Fn&& args);
    void keep(std::string_view text);
    std::string_view kept() const;

    Context& ctx_;
    const SessionStore& session_;  // its pool's free end holds the running query's line
    std::size_t len_ = 0;
};

}  // namespace qmtkit::qmt::detail
