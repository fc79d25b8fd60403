; TypeScript and TSX: ecmascript.scm (appended by the loader) plus classes, abstract classes,
; interfaces, enums, namespaces (a scope), method signatures of interfaces and abstract classes,
; `extends` and `implements`. Overload signatures (`function_signature`) are not definitions.
; Vocabulary: see src/parse/extractor.rs.

[(class_declaration) (abstract_class_declaration) (class)] @definition.class
(interface_declaration) @definition.interface
(enum_declaration) @definition.enum

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

; class fields holding functions: `handle = () => {}`
(public_field_definition
  name: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method

; import x = require("m")
(import_statement
  (import_require_clause
    (identifier) @import.alias
    source: (string (string_fragment) @import.module))) @import
