;; irqlab checker: the words where a successor differs from the state it was stepped from.
;;
;; Assembled by scripts/build-wasm.ts into state-diff.wasm (committed; a test checks that the bytes
;; match this text). The tree store (tree-store.ts) keeps its two state rows, `cur` and `next`, in
;; this module's memory; after the model steps `next` in place, `diff` lists the word indices where
;; the two rows differ, in increasing order. A step changes about three of the scaled seed 004's
;; 433 words, so the comparison is most of the work: SIMD compares eight words per iteration and
;; looks at single words only inside a group of four that differs. The same comparison in a
;; JavaScript loop took about a quarter of a whole search (docs/decisions/0250).

(module
  ;; One page to begin with; tree-store.ts grows it to hold both rows and the list before it makes
  ;; its views (growing would detach them).
  (memory (export "memory") 1)

  ;; Compares the 4-word group at word k of rows $a and $b; appends each differing word's index to
  ;; the list at $out (byte address) from entry $n on; returns the new entry count.
  (func $lanes (param $a i32) (param $b i32) (param $k i32) (param $out i32) (param $n i32) (result i32)
    (local $j i32)
    (local $end i32)
    (local.set $j (local.get $k))
    (local.set $end (i32.add (local.get $k) (i32.const 4)))
    (loop $word
      (if (i32.ne
            (i32.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2))))
            (i32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))))
        (then
          (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))) (local.get $j))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $word (i32.lt_u (local.get $j) (local.get $end))))
    (local.get $n))

  ;; Rows of $words words at byte addresses $a and $b (16-byte aligned, each padded with zeros to a
  ;; multiple of 8 words that both rows share); writes the indices of the differing words to $out
  ;; and returns how many there are.
  (func (export "diff") (param $a i32) (param $b i32) (param $words i32) (param $out i32) (result i32)
    (local $k i32)
    (local $n i32)
    (local $x v128)
    (local $y v128)
    (block $done
      (loop $group
        (br_if $done (i32.ge_u (local.get $k) (local.get $words)))
        (local.set $x
          (i32x4.ne
            (v128.load (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
            (v128.load (i32.add (local.get $b) (i32.shl (local.get $k) (i32.const 2))))))
        (local.set $y
          (i32x4.ne
            (v128.load offset=16 (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
            (v128.load offset=16 (i32.add (local.get $b) (i32.shl (local.get $k) (i32.const 2))))))
        (if (v128.any_true (v128.or (local.get $x) (local.get $y)))
          (then
            (if (v128.any_true (local.get $x))
              (then
                (local.set $n
                  (call $lanes (local.get $a) (local.get $b) (local.get $k) (local.get $out) (local.get $n)))))
            (if (v128.any_true (local.get $y))
              (then
                (local.set $n
                  (call $lanes
                    (local.get $a)
                    (local.get $b)
                    (i32.add (local.get $k) (i32.const 4))
                    (local.get $out)
                    (local.get $n)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br $group)))
    (local.get $n))
)
