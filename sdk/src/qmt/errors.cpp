#include "qmtkit/qmt/errors.hpp"

namespace qmtkit::qmt {

ClientError to_client_error(const at::AtError& e) {
    switch (e.kind) {
        case at::ErrorKind::error:
            return client_error(Error::module_error);
        case at::ErrorKind::cme:
            return ClientError{Error::cme, e.cme, static_cast<std::int32_t>(e.cme)};
        case at::ErrorKind::timeout:
            return client_error(Error::timeout);
        case at::ErrorKind::result_timeout:
            return client_error(Error::result_timeout);
        case at::ErrorKind::aborted:
            return client_error(Error::aborted);
        case at::ErrorKind::queue_full:
            return client_error(Error::queue_full);
        case at::ErrorKind::bad_argument:
            switch (e.arg) {
                case at::ArgError::forbidden_char:
                    return client_error(Error::forbidden_char);
                case at::ArgError::too_many_args:
                    return client_error(Error::too_many_topics);  // only lists have that many
                case at::ArgError::too_long:
                case at::ArgError::none:
                    break;
            }
            return client_error(Error::field_too_long);  // the command line does not fit
    }
    return client_error(Error::module_error);
}

}  // namespace qmtkit::qmt
