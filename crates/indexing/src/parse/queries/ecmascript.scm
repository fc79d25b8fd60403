; Shared by javascript.scm and typescript.scm (the loader appends it to each): functions,
; methods, arrow functions bound to names, calls and `new`, imports, re-exports, `require`.
; Vocabulary: see src/parse/extractor.rs.

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

[(function_declaration) (generator_function_declaration) (function_expression)] @definition.function

(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(assignment_expression
  left: [
    (identifier) @name
    (member_expression property: (property_identifier) @name)
  ]
  right: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(pair
  key: (property_identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(call_expression
  function: (identifier) @name
  (#not-eq? @name "require")) @reference.call

(call_expression
  function: (member_expression
    object: (_) @receiver
    property: [(property_identifier) (private_property_identifier)] @name)) @reference.call

(new_expression
  constructor: [
    (identifier) @name
    (member_expression object: (_) @receiver property: (property_identifier) @name)
  ]) @reference.call

; import "m";  import d, { a, b as c } from "m";  import * as ns from "m"
(import_statement
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause [
    (identifier) @import.alias
    (namespace_import (identifier) @import.alias)
    (named_imports
      (import_specifier
        name: (_) @import.name
        alias: (identifier)? @import.alias))
  ])
  source: (string (string_fragment) @import.module)) @import

; export { a, b as c } from "m";  export * from "m"
(export_statement
  (export_clause
    (export_specifier
      name: (_) @import.name))
  source: (string (string_fragment) @import.module)) @import

(export_statement
  "*" @import.wildcard
  source: (string (string_fragment) @import.module)) @import

; require("m");  const x = require("m")
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require")) @import

(variable_declarator
  name: (identifier) @import.alias
  value: (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_require "require")) @import
