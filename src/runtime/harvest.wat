;; irqlab runtime: the PIR harvest kernel in WebAssembly, on native 32- and 64-bit atomics.
;;
;; Assembled by scripts/build-wasm.ts into harvest.wasm (committed; a test checks that the bytes
;; match this text). Both functions read a 256-bit PIR at byte address $pir (64-byte aligned, the
;; posted-interrupt descriptor layout of SDM Vol. 3C "Posted-Interrupt Descriptor"), atomically
;; clear the words they take, write the 256 harvested bits as little-endian words to $out (eight
;; 32-bit words = four 64-bit words, a consumer-private scratch area) and return a mask of the
;; words they exchanged: 0 means nothing was pending.
;;
;; Only the single consumer of a channel clears PIR bits, so between our load of a word and our
;; xchg of it the word can only gain bits (posters only set). That is why a word loaded as zero
;; may be skipped and why a word loaded as non-zero is still non-zero at the xchg (the argument
;; of seed 000 patch 2/8).

(module
  ;; The channel lives in a shared memory created by JS (WebAssembly.Memory({shared: true})); the
  ;; widest limits accept a memory of any size.
  (import "env" "memory" (memory 1 65536 shared))

  ;; u32-interleaved: for each 32-bit word, load it and, if non-zero, xchg it with 0.
  ;; The shape of __kvm_apic_update_irr before seed 000 (8 loads and up to 8 xchgs).
  ;; Returns a mask with bit i set when 32-bit word i was exchanged.
  (func (export "harvest_u32") (param $pir i32) (param $out i32) (result i32)
    (local $i i32)
    (local $addr i32)
    (local $w i32)
    (local $mask i32)
    (loop $word
      (local.set $addr (i32.add (local.get $pir) (i32.shl (local.get $i) (i32.const 2))))
      (local.set $w (i32.atomic.load (local.get $addr)))
      (if (local.get $w)
        (then
          (local.set $w (i32.atomic.rmw.xchg (local.get $addr) (i32.const 0)))
          (local.set $mask
            (i32.or (local.get $mask) (i32.shl (i32.const 1) (local.get $i))))))
      (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $w))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $word (i32.lt_u (local.get $i) (i32.const 8))))
    (local.get $mask))

  ;; u64-loads-then-xchg: load all four 64-bit words first; if all are zero return 0 without any
  ;; read-modify-write; otherwise xchg only the non-zero words with 0 (pi_harvest_pir after
  ;; seed 000 patches 2, 5, 6 and 8: 4 loads and up to 4 xchgs, loads grouped before the RMWs).
  ;; Returns a mask with bit j set when 64-bit word j was exchanged.
  (func (export "harvest_u64") (param $pir i32) (param $out i32) (result i32)
    (local $w0 i64)
    (local $w1 i64)
    (local $w2 i64)
    (local $w3 i64)
    (local $mask i32)
    (local.set $w0 (i64.atomic.load offset=0 (local.get $pir)))
    (local.set $w1 (i64.atomic.load offset=8 (local.get $pir)))
    (local.set $w2 (i64.atomic.load offset=16 (local.get $pir)))
    (local.set $w3 (i64.atomic.load offset=24 (local.get $pir)))
    (if (i64.eqz
          (i64.or (i64.or (local.get $w0) (local.get $w1)) (i64.or (local.get $w2) (local.get $w3))))
      (then (return (i32.const 0))))
    (if (i64.ne (local.get $w0) (i64.const 0))
      (then
        (local.set $w0 (i64.atomic.rmw.xchg offset=0 (local.get $pir) (i64.const 0)))
        (local.set $mask (i32.or (local.get $mask) (i32.const 1)))))
    (if (i64.ne (local.get $w1) (i64.const 0))
      (then
        (local.set $w1 (i64.atomic.rmw.xchg offset=8 (local.get $pir) (i64.const 0)))
        (local.set $mask (i32.or (local.get $mask) (i32.const 2)))))
    (if (i64.ne (local.get $w2) (i64.const 0))
      (then
        (local.set $w2 (i64.atomic.rmw.xchg offset=16 (local.get $pir) (i64.const 0)))
        (local.set $mask (i32.or (local.get $mask) (i32.const 4)))))
    (if (i64.ne (local.get $w3) (i64.const 0))
      (then
        (local.set $w3 (i64.atomic.rmw.xchg offset=24 (local.get $pir) (i64.const 0)))
        (local.set $mask (i32.or (local.get $mask) (i32.const 8)))))
    (i64.store offset=0 (local.get $out) (local.get $w0))
    (i64.store offset=8 (local.get $out) (local.get $w1))
    (i64.store offset=16 (local.get $out) (local.get $w2))
    (i64.store offset=24 (local.get $out) (local.get $w3))
    (local.get $mask)))
