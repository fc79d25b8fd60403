; TypeScript and TSX: everything of javascript.scm (classes, functions, arrow functions bound to
; names, methods, calls and `new`, imports, re-exports, `require`), plus abstract classes,
; interfaces, enums, namespaces (a scope), method signatures of interfaces and abstract classes,
; `extends` and `implements`. Overload signatures (`function_signature`) are not definitions.
; Vocabulary: see src/parse/extractor.rs.

(class_declaration
  name: (type_identifier) @name) @definition.class

(abstract_class_declaration
  name: (type_identifier) @name) @definition.class

(class
  name: (type_identifier) @name) @definition.class

(interface_declaration
  name: (type_identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(internal_module
  name: [(identifier) (nested_identifier)] @name) @scope

(class_heritage
  (extends_clause
    value: (_) @reference.inherits))

(class_heritage
  (implements_clause
    [(type_identifier) (generic_type) (nested_type_identifier)] @reference.implements))

(interface_declaration
  (extends_type_clause
    type: (_) @reference.inherits))

(method_signature
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(abstract_method_signature
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

; class fields holding functions: `handle = () => {}`
(public_field_definition
  name: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method

(function_declaration
  name: (identifier) @name) @definition.function

(generator_function_declaration
  name: (identifier) @name) @definition.function

(function_expression
  name: (identifier) @name) @definition.function

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
  constructor: (identifier) @name) @reference.call

(new_expression
  constructor: (member_expression
    object: (_) @receiver
    property: (property_identifier) @name)) @reference.call

; import "m";  import d, { a, b as c } from "m";  import * as ns from "m"
(import_statement
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause
    (identifier) @import.alias)
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause
    (namespace_import (identifier) @import.alias))
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause
    (named_imports
      (import_specifier
        name: (_) @import.name
        !alias)))
  source: (string (string_fragment) @import.module)) @import

(import_statement
  (import_clause
    (named_imports
      (import_specifier
        name: (_) @import.name
        alias: (identifier) @import.alias)))
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

; import x = require("m")
(import_statement
  (import_require_clause
    (identifier) @import.alias
    source: (string (string_fragment) @import.module))) @import
