export function ComparePage() { return <div className="page">compare</div>; }
