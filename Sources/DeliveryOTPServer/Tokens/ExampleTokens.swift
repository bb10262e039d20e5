/// The published example tokens of `keys-example/tokens.json`: their texts are in
/// `keys-example/README.md`, so anyone can use them. A tokens file holding one of these digests is
/// an example file, whatever its mark says, and the service refuses it unless told to serve the
/// example keys.
enum ExampleTokens {
    static let digests: Set<[UInt8]> = Set(
        [
            "44b0642db4bd8222fc2b3108cba45fa81be5c9d10734a0abc5ff34596e8eb316",
            "e9bf720bde4c5881060120a648c75e84b0db72264d628e3ef8548f83a4fd8027",
            "f1ecf146ec40f1477cfc529eecc95681876ea5061c10cc0d03cb6738d7eb66f1",
            "875028cd4a70f3e0e9831fc3ac70660c24bc47acd250003da386703d00ebafda",
        ].compactMap(Hex.decode))
}
