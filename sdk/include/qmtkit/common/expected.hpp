// A small `expected` for a core built without exceptions: a value or a typed error, never both.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

namespace qmtkit {

template <class E>
struct Unexpected {
    E error;
};

template <class E>
constexpr Unexpected<std::decay_t<E>> unexpected(E&& e) {
    return {std::forward<E>(e)};
}

template <class T, class E>
class Expected {
  public:
    constexpr Expected(const T& v) : ok_(true) {
        new (&storage_.value) T(v);
    }  // NOLINT: implicit by design
    constexpr Expected(T&& v) : ok_(true) { new (&storage_.value) T(std::move(v)); }  // NOLINT
    constexpr Expected(Unexpected<E> u) : ok_(false) {
        new (&storage_.error) E(std::move(u.error));
    }  // NOLINT
    Expected(const Expected& o) : ok_(o.ok_) {
        if (ok_)
            new (&storage_.value) T(o.storage_.value);
        else
            new (&storage_.error) E(o.storage_.error);
    }
    Expected& operator=(const Expected& o) {
        if (this != &o) {
            destroy();
            ok_ = o.ok_;
            if (ok_)
                new (&storage_.value) T(o.storage_.value);
            else
                new (&storage_.error) E(o.storage_.error);
        }
        return *this;
    }
    ~Expected() { destroy(); }

    constexpr bool has_value() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr const T& value() const { return storage_.value; }
    constexpr T& value() { return storage_.value; }
    constexpr const T& operator*() const { return storage_.value; }
    constexpr const T* operator->() const { return &storage_.value; }
    constexpr const E& error() const { return storage_.error; }
    template <class U>
    constexpr T value_or(U&& fallback) const {
        return ok_ ? storage_.value : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    void destroy() {
        if (ok_)
            storage_.value.~T();
        else
            storage_.error.~E();
    }
    union Storage {
        Storage() {}
        ~Storage() {}
        T value;
        E error;
    } storage_;
    bool ok_;
};

template <class E>
class Expected<void, E> {
  public:
    constexpr Expected() : ok_(true), error_() {}
    constexpr Expected(Unexpected<E> u) : ok_(false), error_(std::move(u.error)) {}  // NOLINT
    constexpr bool has_value() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr const E& error() const { return error_; }

  private:
    bool ok_;
    E error_;
};

}  // namespace qmtkit
