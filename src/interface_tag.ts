/**
 * The tag every Web IDL interface gives its prototype.
 *
 * @module
 */

/**
 * Gives `constructor`'s prototype the `Symbol.toStringTag` a Web IDL
 * interface has, so that `Object.prototype.toString` names the interface as
 * browsers do (`[object WebSocketStream]`), instead of `[object Object]` or
 * an inherited tag. The name is given, not read from the class, which a
 * bundler may rename.
 */
export function tagInterface(
  constructor: { readonly prototype: object },
  name: string,
): void {
  Object.defineProperty(constructor.prototype, Symbol.toStringTag, {
    value: name,
    configurable: true,
  });
}
