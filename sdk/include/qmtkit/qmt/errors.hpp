// One error idiom for the client: Result<T> = Expected<T, ClientError>, and one place where an
// engine error becomes a client error.
#pragma once

#include <cstdint>

#include "qmtkit/at/engine.hpp"
#include "qmtkit/qmt/types.hpp"

namespace qmtkit::qmt {

// Lossless: every distinct at::AtError gives a distinct ClientError (the CME code is kept in
// `cme` and `value`, an argument refusal in `code`), so nothing the engine said is lost.
ClientError to_client_error(const at::AtError& e);

constexpr ClientError client_error(Error e, std::int32_t value = 0) {
    return ClientError{e, at::Cme::none, value};
}

template <class T = void>
Result<T> failure(Error e, std::int32_t value = 0) {
    return unexpected(client_error(e, value));
}
template <class T = void>
Result<T> failure(const ClientError& e) {
    return unexpected(e);
}
// Passes a failed check on as a result of another type.
template <class T>
Result<T> failure(const Result<void>& failed_check) {
    return unexpected(failed_check.error());
}

}  // namespace qmtkit::qmt
