; Go: struct and interface types, functions, methods (owner = receiver type), calls, imports,
; embedded types (Extends).
; Vocabulary: see src/parse/extractor.rs.

(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.struct

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

; embedded fields and embedded interfaces
(struct_type
  (field_declaration_list
    (field_declaration
      !name
      type: [(type_identifier) (qualified_type) (generic_type)] @reference.inherits)))

(struct_type
  (field_declaration_list
    (field_declaration
      !name
      type: (pointer_type [(type_identifier) (qualified_type) (generic_type)] @reference.inherits))))

(interface_type
  (type_elem
    [(type_identifier) (qualified_type) (generic_type)] @reference.inherits))

(function_declaration) @definition.function

(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      name: (identifier)? @self
      type: [
        (type_identifier) @owner
        (pointer_type (type_identifier) @owner)
        (generic_type type: (type_identifier) @owner)
        (pointer_type (generic_type type: (type_identifier) @owner))
      ]))
  name: (field_identifier) @name) @definition.method

(call_expression
  function: [
    (identifier) @name
    (selector_expression operand: (_) @receiver field: (field_identifier) @name)
  ]) @reference.call

(import_spec
  path: (_ [(interpreted_string_literal_content) (raw_string_literal_content)] @import.module)) @import

(import_spec
  name: (package_identifier) @import.alias
  path: (_ [(interpreted_string_literal_content) (raw_string_literal_content)] @import.module)) @import
