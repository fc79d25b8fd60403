; Rust: structs, enums, unions (as structs), traits, functions; fns inside `impl` and `trait`
; blocks are methods; `mod` blocks name a scope; `impl Trait for X` is an Implements edge.
; Vocabulary: see src/parse/extractor.rs.

[(struct_item) (union_item)] @definition.struct
(enum_item) @definition.enum
(trait_item) @definition.trait
[(function_item) (function_signature_item)] @definition.function

(trait_item
  bounds: (trait_bounds
    [(type_identifier) (scoped_type_identifier) (generic_type)] @reference.inherits))

(mod_item
  name: (identifier) @name
  body: (declaration_list)) @scope

(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
    (reference_type type: (type_identifier) @name)
  ]) @scope.impl

(impl_item
  trait: (_) @reference.implements)

(call_expression
  function: [
    (identifier) @name
    (field_expression value: (_) @receiver field: (field_identifier) @name)
    (scoped_identifier path: (_) @receiver name: (identifier) @name)
    (generic_function
      function: [
        (identifier) @name
        (field_expression value: (_) @receiver field: (field_identifier) @name)
        (scoped_identifier path: (_) @receiver name: (identifier) @name)
      ])
  ]) @reference.call

; use a;  use a::b::C;  use a::b::C as D;  use a::*;  use a::{B, c::D, E as F, *};
(use_declaration
  argument: [
    (identifier) @import.module
    (scoped_identifier path: (_) @import.module name: (_) @import.name)
  ]) @import

(use_declaration
  argument: (use_as_clause
    path: [
      (scoped_identifier path: (_) @import.module name: (_) @import.name)
      (identifier) @import.module
    ]
    alias: (identifier) @import.alias)) @import

(use_declaration
  argument: (use_wildcard
    (_) @import.module) @import.wildcard) @import

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list [
      (identifier) @import.name
      (scoped_identifier) @import.name
      (self) @import.name
      (use_as_clause path: (_) @import.name alias: (identifier) @import.alias)
      (use_wildcard) @import.wildcard
    ]))) @import
