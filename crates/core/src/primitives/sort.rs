//! The module's one sort: a heap sort, O(n log n) in every case and a few
//! hundred bytes of code per element type, where each instance of the
//! standard sorts (quicksort, its small sorts and pivots) costs the module
//! about 3 KB. Every caller sorts by a total order, so an unstable sort
//! gives the one result there is.

/// Sorts `v` in ascending order.
pub fn heap_sort<T: Ord>(v: &mut [T]) {
    heap_sort_by(v, |a, b| a < b);
}

/// Sorts `v` so that no element is `before` one ahead of it.
pub fn heap_sort_by<T>(v: &mut [T], before: impl Fn(&T, &T) -> bool) {
    let sift = |v: &mut [T], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && before(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !before(&v[root], &v[child]) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_as_the_standard_sort_does() {
        // Every permutation-ish input of a few sizes, with repeats.
        let mut seed = 7u32;
        for n in 0..40 {
            for _ in 0..20 {
                let mut v: Vec<u32> = (0..n)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        (seed >> 16) % 10
                    })
                    .collect();
                let mut expected = v.clone();
                expected.sort();
                heap_sort(&mut v);
                assert_eq!(v, expected);
            }
        }
        let mut pairs = vec![("b", 2), ("a", 9), ("b", 1), ("a", 3)];
        heap_sort_by(&mut pairs, |x, y| (x.0, x.1) < (y.0, y.1));
        assert_eq!(pairs, [("a", 3), ("a", 9), ("b", 1), ("b", 2)]);
    }
}
