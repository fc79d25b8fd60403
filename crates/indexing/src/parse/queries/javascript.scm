; JavaScript (and JSX): classes, functions (declarations, named function expressions, arrow
; functions bound to a variable or property), class methods, calls and `new`, ES imports and
; re-exports, `require`, `extends`. The patterns shared with TypeScript are in ecmascript.scm,
; which the loader appends to this file.
; Vocabulary: see src/parse/extractor.rs.

[(class_declaration) (class)] @definition.class

(class_heritage
  (_) @reference.inherits)

; class fields holding functions: `handle = () => {}`
(field_definition
  property: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.method
