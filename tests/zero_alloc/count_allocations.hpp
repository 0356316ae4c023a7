// Every replaceable global allocation function replaced by one that counts (and then mallocs), so
// a program can say how many heap allocations a piece of work made. Include it in exactly one
// translation unit of an executable (the test qmtkit_zero_alloc_test, the benches of bench/).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace qmtkit::test {
inline std::atomic<std::size_t> g_allocations{0};
inline std::size_t heap_allocations() {
    return g_allocations.load(std::memory_order_relaxed);
}
}  // namespace qmtkit::test

namespace {

void* counted(std::size_t size) {
    qmtkit::test::g_allocations.fetch_add(1, std::memory_order_relaxed);
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) std::abort();  // this test never runs out of memory; no exceptions needed
    return p;
}
void* counted_aligned(std::size_t size, std::align_val_t al) {
    qmtkit::test::g_allocations.fetch_add(1, std::memory_order_relaxed);
    const std::size_t a =
        static_cast<std::size_t>(al) < sizeof(void*) ? sizeof(void*) : static_cast<std::size_t>(al);
    void* p = nullptr;
    if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) std::abort();
    return p;
}
}  // namespace

// ---- the replaceable global allocation and deallocation functions, all of them
void* operator new(std::size_t n) {
    return counted(n);
}
void* operator new[](std::size_t n) {
    return counted(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return counted_aligned(n, a);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_aligned(n, a);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
