//! The valid_policy_tree of RFC 5280 §6.1 as an arena of nodes.

use super::ANY_POLICY;
use crate::error::{Code, Result, VerifyError};
use der::asn1::ObjectIdentifier as Oid;

/// Most nodes a tree may hold; a path that needs more is refused (policy-tree blow-up).
const MAX_NODES: usize = 4096;

#[derive(Debug, Clone)]
struct Node {
    policy: Oid,
    expected: Vec<Oid>,
    parent: Option<usize>,
    depth: usize,
    alive: bool,
}

/// The tree; `None` inside [`PolicyTree`] is the NULL tree.
#[derive(Debug, Clone)]
pub struct PolicyTree {
    nodes: Vec<Node>,
}

impl PolicyTree {
    /// The initial tree: one anyPolicy node at depth 0 expecting anyPolicy.
    pub fn new() -> Self {
        PolicyTree {
            nodes: vec![Node {
                policy: ANY_POLICY,
                expected: vec![ANY_POLICY],
                parent: None,
                depth: 0,
                alive: true,
            }],
        }
    }

    fn live_at(&self, depth: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.alive && n.depth == depth)
            .map(|(i, _)| i)
    }

    fn add(&mut self, parent: usize, policy: Oid, expected: Vec<Oid>) -> Result<()> {
        if self.nodes.len() >= MAX_NODES {
            return Err(VerifyError::new(
                Code::Limit,
                "certificate policy tree too large",
            ));
        }
        let depth = self.nodes[parent].depth + 1;
        self.nodes.push(Node {
            policy,
            expected,
            parent: Some(parent),
            depth,
            alive: true,
        });
        Ok(())
    }

    fn has_live_child(&self, index: usize) -> bool {
        self.nodes
            .iter()
            .any(|n| n.alive && n.parent == Some(index))
    }

    /// §6.1.3 (d): processes the policies of the certificate at `depth` (1-based).
    /// `any_allowed` = inhibit_anyPolicy > 0, or the certificate is self-issued and not final.
    pub fn process_certificate(
        &mut self,
        depth: usize,
        policies: &[Oid],
        any_allowed: bool,
    ) -> Result<()> {
        let parents: Vec<usize> = self.live_at(depth - 1).collect();
        for p in policies.iter().filter(|p| **p != ANY_POLICY) {
            let matching: Vec<usize> = parents
                .iter()
                .copied()
                .filter(|&i| self.nodes[i].expected.contains(p))
                .collect();
            if !matching.is_empty() {
                for i in matching {
                    self.add(i, *p, vec![*p])?;
                }
            } else if let Some(any) = parents
                .iter()
                .copied()
                .find(|&i| self.nodes[i].policy == ANY_POLICY)
            {
                self.add(any, *p, vec![*p])?;
            }
        }
        if policies.contains(&ANY_POLICY) && any_allowed {
            for &i in &parents {
                let expected = self.nodes[i].expected.clone();
                for e in expected {
                    let exists = self
                        .nodes
                        .iter()
                        .any(|n| n.alive && n.parent == Some(i) && n.policy == e);
                    if !exists {
                        self.add(i, e, vec![e])?;
                    }
                }
            }
        }
        self.prune(depth);
        Ok(())
    }

    /// Deletes, bottom-up, nodes above `depth` that have no children.
    pub fn prune(&mut self, depth: usize) {
        for d in (0..depth).rev() {
            let dead: Vec<usize> = self
                .live_at(d)
                .filter(|&i| !self.has_live_child(i))
                .collect();
            for i in dead {
                self.nodes[i].alive = false;
            }
        }
    }

    /// True when the tree has no node left at `depth` (it is NULL from then on).
    pub fn is_empty_at(&self, depth: usize) -> bool {
        self.live_at(depth).next().is_none()
    }

    /// §6.1.4 (b): applies policy mappings (issuerDomain → subjectDomain) at `depth`.
    /// With `mapping_allowed` false, mapped issuer-domain nodes are deleted instead.
    pub fn apply_mappings(
        &mut self,
        depth: usize,
        mappings: &[(Oid, Oid)],
        mapping_allowed: bool,
    ) -> Result<()> {
        let mut issuer_domains: Vec<Oid> = mappings.iter().map(|(i, _)| *i).collect();
        issuer_domains.dedup();
        for id in issuer_domains {
            let subjects: Vec<Oid> = mappings
                .iter()
                .filter(|(i, _)| *i == id)
                .map(|(_, s)| *s)
                .collect();
            let nodes: Vec<usize> = self
                .live_at(depth)
                .filter(|&i| self.nodes[i].policy == id)
                .collect();
            if mapping_allowed {
                if !nodes.is_empty() {
                    for i in nodes {
                        self.nodes[i].expected = subjects.clone();
                    }
                } else {
                    let any = self
                        .live_at(depth)
                        .find(|&i| self.nodes[i].policy == ANY_POLICY);
                    if let Some(parent) = any.and_then(|a| self.nodes[a].parent) {
                        self.add(parent, id, subjects.clone())?;
                    }
                }
            } else {
                for i in nodes {
                    self.nodes[i].alive = false;
                }
            }
        }
        if !mapping_allowed {
            self.prune(depth);
        }
        Ok(())
    }

    /// §6.1.5 (g): intersects with the user-initial-policy-set (empty = anyPolicy) and
    /// returns the user-constrained policy set, or `None` when the tree is NULL.
    pub fn intersect(&mut self, depth: usize, initial: &[Oid]) -> Option<Vec<Oid>> {
        if self.is_empty_at(depth) {
            return None;
        }
        let user_any = initial.is_empty() || initial.contains(&ANY_POLICY);
        if !user_any {
            // valid_policy_node_set: nodes whose parent is anyPolicy.
            let node_set: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    self.nodes[i].alive
                        && self.nodes[i]
                            .parent
                            .is_some_and(|p| self.nodes[p].policy == ANY_POLICY)
                })
                .collect();
            for &i in &node_set {
                let p = self.nodes[i].policy;
                if p != ANY_POLICY && !initial.contains(&p) {
                    self.kill_subtree(i);
                }
            }
            let any_leaves: Vec<usize> = self
                .live_at(depth)
                .filter(|&i| self.nodes[i].policy == ANY_POLICY)
                .collect();
            for leaf in any_leaves {
                let present: Vec<Oid> = node_set
                    .iter()
                    .filter(|&&i| self.nodes[i].alive)
                    .map(|&i| self.nodes[i].policy)
                    .collect();
                if let Some(parent) = self.nodes[leaf].parent {
                    for p in initial.iter().filter(|p| !present.contains(p)) {
                        if self.add(parent, *p, vec![*p]).is_err() {
                            return None;
                        }
                    }
                }
                self.nodes[leaf].alive = false;
            }
            self.prune(depth);
            if self.is_empty_at(depth) {
                return None;
            }
        }
        // The user-constrained set is expressed in the trust anchor's policy domain: for each
        // surviving leaf, the policy of its top-most ancestor below anyPolicy (policy
        // mappings rename policies further down).
        let mut set = Vec::new();
        for leaf in self.live_at(depth).collect::<Vec<_>>() {
            let mut node = leaf;
            while let Some(parent) = self.nodes[node].parent {
                if self.nodes[parent].policy == ANY_POLICY {
                    break;
                }
                node = parent;
            }
            let policy = self.nodes[node].policy;
            if policy == ANY_POLICY {
                return Some(if user_any {
                    vec![ANY_POLICY]
                } else {
                    initial.to_vec()
                });
            }
            set.push(policy);
        }
        set.sort();
        set.dedup();
        Some(set)
    }

    fn kill_subtree(&mut self, root: usize) {
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            self.nodes[i].alive = false;
            stack.extend(
                (0..self.nodes.len())
                    .filter(|&c| self.nodes[c].alive && self.nodes[c].parent == Some(i)),
            );
        }
    }
}

impl Default for PolicyTree {
    fn default() -> Self {
        Self::new()
    }
}
