#include "qmtkit/qmt/outbox_store.hpp"

namespace qmtkit::qmt {

std::string_view to_string(StoreError e) {
    switch (e) {
        case StoreError::full:
            return "the outbox store is full";
        case StoreError::io:
            return "the outbox store's medium refused a read or a write";
        case StoreError::corrupt:
            return "an outbox store record failed its check";
    }
    return "unknown store error";
}

}  // namespace qmtkit::qmt
