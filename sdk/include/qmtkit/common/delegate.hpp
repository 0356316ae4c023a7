// A non-owning callback: a function pointer and a context pointer. No heap, no RTTI, no
// std::function; bind a member function with Delegate<...>::bind<&T::method>(this).
#pragma once

namespace qmtkit {

template <class Sig>
class Delegate;

template <class R, class... A>
class Delegate<R(A...)> {
  public:
    using Fn = R (*)(void*, A...);

    constexpr Delegate() = default;
    constexpr Delegate(void* ctx, Fn fn) : ctx_(ctx), fn_(fn) {}

    template <auto Method, class T>
    static constexpr Delegate bind(T* obj) {
        return Delegate(obj,
                        [](void* c, A... a) -> R { return (static_cast<T*>(c)->*Method)(a...); });
    }
    // Refers to a callable that must outlive the delegate (a lambda kept in a member, say).
    template <class F>
    static constexpr Delegate from(F& callable) {
        return Delegate(&callable,
                        [](void* c, A... a) -> R { return (*static_cast<F*>(c))(a...); });
    }

    constexpr explicit operator bool() const { return fn_ != nullptr; }
    R operator()(A... a) const { return fn_(ctx_, a...); }

  private:
    void* ctx_ = nullptr;
    Fn fn_ = nullptr;
};

}  // namespace qmtkit
