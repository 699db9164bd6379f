import StampDIB
import Testing

import StampContainers
import StampElements
import StampPipeline

/// Which writer each `-t` name of `disk-image-create` gets.
@Suite struct DIBFormatTests {
    struct NotABuild: Error {}

    func request(_ arguments: String) throws -> DIBBuildRequest {
        guard
            case .build(let request) = try DIBCommandLine.parse(
                arguments.split(separator: " ").map(String.init), environment: [:])
        else { throw NotABuild() }
        return request
    }

    @Test func vmdkIsStreamOptimizedUnlessTheSubformatSaysOtherwise() throws {
        let plain = DIBBuild.formats(try request("-t qcow2,vmdk,ova -o x e"))
        #expect(plain.formats == [.container(.qcow2), .container(.vmdkStreamOptimized), .ova] && plain.unknown.isEmpty)
        let sparse = DIBBuild.formats(try request("-t qcow2,vmdk,ova --qemu-img-options subformat=monolithicSparse -o x e"))
        #expect(sparse.formats == [.container(.qcow2), .container(.vmdkMonolithicSparse), .ova])
        let stream = DIBBuild.formats(try request("-t vmdk --qemu-img-options subformat=streamOptimized -o x e"))
        #expect(stream.formats == [.container(.vmdkStreamOptimized)])
    }
}
